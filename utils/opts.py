"""Command-line options, read cvnets-style with dotted names.

``get_training_arguments()`` returns an ``argparse.Namespace`` whose attributes carry dotted
names (``getattr(opts, "model.classification.edge.scale")``). The parser is assembled from the
registries: every registered model, layer, loss, optimizer, scheduler, dataset, sampler and
transform declares its own options. Values come from, in order of precedence, the command line,
the YAML file named by ``--common.config-file`` and the defaults.

Command-line names use dashes (``--model.classification.n-classes``); the underscore spelling
that YAML keys use is accepted too. Boolean options take an optional value:
``--common.auto-resume`` and ``--common.auto-resume true`` set it, ``--common.auto-resume false``
clears it.
"""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from utils.config_file import load_flat_config, resolve_config_path
from utils.errors import ConfigError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", "none"}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


parse_bool.__name__ = "bool"


def parse_structured(value: Any) -> Any:
    """A value written as YAML on the command line (``"[[2, 3], [2]]"``); YAML files pass it as is."""
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            raise argparse.ArgumentTypeError(f"cannot read {value!r} as a YAML value") from None
    return value


parse_structured.__name__ = "yaml value"


def add_flag(group: Any, name: str, default: bool = False, help: str = "") -> None:
    """A boolean option: ``--name`` or ``--name true`` sets it, ``--name false`` clears it."""
    group.add_argument(name, type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL",
                       help=f"{help} (default: {str(default).lower()})")


OptionRow = Tuple[Any, ...]


def add_options(group: Any, prefix: str, rows: Sequence[OptionRow]) -> None:
    """Declare ``<prefix>.<name>`` for each row ``(name, default, help)`` or
    ``(name, default, help, settings)``, ``settings`` being further ``add_argument`` keywords.

    Unless ``settings`` names a ``type``, the default decides: a bool makes a flag
    (:func:`add_flag`), a list a ``nargs="+"`` option of its first item's type, an int, float or
    str that type. A ``None`` default needs an explicit type."""
    for row in rows:
        name, default, help_text = row[:3]
        settings: Dict[str, Any] = dict(row[3]) if len(row) > 3 else {}
        option = f"{prefix}.{name}"
        if "type" not in settings and isinstance(default, bool):
            add_flag(group, option, default=default, help=help_text)
            continue
        if "type" not in settings:
            if default is None:
                raise TypeError(f"{option}: a None default needs an explicit type")
            if isinstance(default, list):
                settings.setdefault("nargs", "+")
                settings["type"] = type(default[0])
            else:
                settings["type"] = type(default)
        group.add_argument(option, default=default, help=help_text, **settings)


class OptionParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`ConfigError` instead of printing usage and exiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


# ----------------------------------------------------------------------------------------------
# option groups that belong to no registry


def common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Common arguments")
    add_options(group, "--common", [
        ("config-file", None, "YAML config; a relative path is also looked up under config/", dict(type=str)),
        ("seed", 0, "random seed"),
        ("results-loc", "results", "folder holding one sub-folder per run"),
        ("run-label", "run_1", "name of this run's sub-folder under common.results-loc"),
        ("resume", None, "resume training from this checkpoint.pt", dict(type=str)),
        ("finetune", None, "initialise the model from these weights, skipping mismatching keys", dict(type=str)),
        ("finetune-ema", None, "initialise the EMA model from these weights", dict(type=str)),
        ("auto-resume", False, "continue from <results>/<run>/checkpoint.pt if it exists"),
        ("mixed-precision", False, "mixed precision: float16 with gradient scaling on CUDA, bfloat16 on CPU"),
        ("mixed-precision-dtype", None,
         "override the mixed-precision dtype (default: float16 on CUDA, bfloat16 on CPU)",
         dict(type=str, choices=["float16", "bfloat16"])),
        ("channels-last", False, "train and evaluate in channels_last memory format"),
        ("accum-freq", 1, "accumulate gradients over this many iterations"),
        ("accum-after-epoch", 0, "start gradient accumulation at this epoch"),
        ("log-freq", 100, "log every this many iterations"),
        ("grad-clip", None, "clip the gradient norm to this value", dict(type=float)),
        ("k-best-checkpoints", 5, "average the weights of this many best epochs"),
        ("device", None, "cpu or cuda (default: cuda when available)", dict(type=str)),
    ])
    return parser


def ddp_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Distributed training",
                                      "Launch with torchrun; these keys are read for compatibility.")
    add_options(group, "--ddp", [
        ("enable", True, "use DistributedDataParallel when started by torchrun (a single process otherwise)"),
        ("rank", 0, "node rank (torchrun sets RANK)"),
        ("world-size", -1, "world size (torchrun sets WORLD_SIZE)"),
        ("dist-url", None, "init URL (torchrun sets MASTER_ADDR)", dict(type=str)),
        ("dist-port", 30786, "port (torchrun sets MASTER_PORT)"),
        ("backend", None, "process-group backend (default: nccl on CUDA, gloo on CPU)",
         dict(type=str, choices=["nccl", "gloo"])),
        ("find-unused-parameters", False, "let DDP tolerate parameters without gradients"),
    ])
    return parser


def _evaluation_rows(resize_rounding: str = "") -> List[OptionRow]:
    """The options every task's evaluation has; ``resize_rounding`` adds ``resize-input-images``."""
    rows: List[OptionRow] = [
        ("mode", "validation_set", "what to evaluate", dict(choices=["validation_set", "single_image", "image_folder"])),
        ("path", None, "image or folder for the single_image and image_folder modes", dict(type=str)),
    ]
    if resize_rounding:
        rows.append(("resize-input-images", False,
                     "validation_set: resize images to the configured crop size before the forward pass "
                     f"(without it, only down to multiples of {resize_rounding}); the image modes always resize"))
    return rows


def evaluation_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    trained_classes = ("num-classes", None, "number of classes the model was trained with (default: the model's)",
                       dict(type=int))
    add_options(parser.add_argument_group("Classification evaluation"), "--evaluation.classification",
                _evaluation_rows() + [("top-k", 5, "classes printed per image in the image modes")])
    add_options(parser.add_argument_group("Detection evaluation"), "--evaluation.detection",
                _evaluation_rows("32") + [
                    ("save-overlay-boxes", False, "also save validation images with the predicted boxes drawn"),
                    trained_classes])
    add_options(parser.add_argument_group("Segmentation evaluation"), "--evaluation.segmentation",
                _evaluation_rows("the output stride") + [
                    ("apply-color-map", False, "save colour-mapped masks"),
                    ("save-overlay-rgb-pred", False, "save the prediction blended over the image"),
                    ("save-masks", False, "save the predicted label masks as PNG"),
                    ("overlay-mask-weight", 0.5, "weight of the mask in the overlay"),
                    trained_classes])
    return parser


def component_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options declared by the registries of models, data, losses, optimizers and metrics."""
    from cvnets import arguments_model
    from data import arguments_data
    from loss_fn import arguments_loss
    from metrics import arguments_stats
    from optim import arguments_optim

    for add in (arguments_data, arguments_model, arguments_loss, arguments_optim, arguments_stats):
        add(parser)
    return parser


def build_parser(description: str, extra: Iterable[Callable[[argparse.ArgumentParser], Any]] = ()) -> OptionParser:
    parser = OptionParser(description=description)
    common_arguments(parser)
    ddp_arguments(parser)
    component_arguments(parser)
    for add in extra:
        add(parser)
    return parser


# ----------------------------------------------------------------------------------------------
# parsing


def _actions_by_dest(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}


def _normalise_argv(parser: argparse.ArgumentParser, argv: Sequence[str]) -> List[str]:
    """Accept ``--a.b_c`` for ``--a.b-c``, the spelling the YAML keys use."""
    known = parser._option_string_actions
    out = []
    for token in argv:
        if token.startswith("--") and "_" in token:
            name, eq, value = token.partition("=")
            dashed = "--" + name[2:].replace("_", "-")
            if name not in known and dashed in known:
                token = dashed + eq + value
        out.append(token)
    return out


def _type_name(kind: Any) -> str:
    if kind is None:
        return "str"
    return getattr(kind, "__name__", str(kind))


def _convert_scalar(key: str, value: Any, kind: Any, source: str) -> Any:
    def wrong() -> ConfigError:
        return ConfigError(f"{source}: key '{key}' has value {value!r} of the wrong type "
                           f"(expected {_type_name(kind)})")

    if kind is parse_structured:
        return value
    if isinstance(value, (list, dict)):
        raise wrong()
    if kind is parse_bool:
        if isinstance(value, bool):
            return value
        try:
            return parse_bool(value)
        except argparse.ArgumentTypeError:
            raise wrong() from None
    if kind is int:
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise wrong()
    if kind is float:
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise wrong()
    if kind in (None, str):
        if isinstance(value, bool):
            raise wrong()
        return str(value)
    try:
        return kind(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        raise wrong() from None


def _convert_yaml_value(key: str, value: Any, action: argparse.Action, source: str) -> Any:
    if value is None:
        return None
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return _convert_scalar(key, value, parse_bool, source)
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        items = value if isinstance(value, (list, tuple)) else [value]
        converted = [_convert_scalar(key, v, action.type, source) for v in items]
        if action.choices is not None:
            for item in converted:
                _check_choice(key, item, action, source)
        return converted
    converted = _convert_scalar(key, value, action.type, source)
    _check_choice(key, converted, action, source)
    return converted


def _check_choice(key: str, value: Any, action: argparse.Action, source: str) -> None:
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(str(c) for c in action.choices)
        raise ConfigError(f"{source}: key '{key}' has value {value!r}; choose one of: {choices}")


def config_defaults(parser: argparse.ArgumentParser, path: Path) -> Dict[str, Any]:
    """The options a YAML file sets, checked against the parser: unknown keys and bad values raise."""
    actions = _actions_by_dest(parser)
    flat = load_flat_config(path)
    values = {}
    for key, value in flat.items():
        if key == "common.config_file":
            raise ConfigError(f"config file {path}: key 'common.config_file' cannot be set inside a config file")
        action = actions.get(key)
        if action is None:
            message = f"config file {path}: unknown key '{key}'"
            close = difflib.get_close_matches(key, actions, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean '{close[0]}'?)"
            raise ConfigError(message)
        values[key] = _convert_yaml_value(key, value, action, f"config file {path}")
    return values


def parse_options(parser: argparse.ArgumentParser, args: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse ``args`` (``sys.argv[1:]`` when None) over the YAML config over the defaults."""
    import sys

    argv = _normalise_argv(parser, list(sys.argv[1:] if args is None else args))
    first, _ = parser.parse_known_args(argv)
    config_name = getattr(first, "common.config_file", None)
    config_path = None
    if config_name:
        config_path = resolve_config_path(config_name)
        saved = {a.dest: a.default for a in parser._actions}
        try:
            parser.set_defaults(**config_defaults(parser, config_path))
            opts = parser.parse_args(argv)
        finally:
            parser.set_defaults(**saved)
    else:
        opts = parser.parse_args(argv)
    setattr(opts, "common.config_file", str(config_path) if config_path else None)
    return opts


def get_training_arguments(args: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Options for training (``main_train.py``)."""
    return parse_options(build_parser("Train a model from a YAML config."), args)


def get_eval_arguments(args: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Options for evaluation (``eval_cls.py``, ``eval_det.py``, ``eval_seg.py``)."""
    return parse_options(build_parser("Evaluate a model.", extra=[evaluation_arguments]), args)


def opts_to_dict(opts: argparse.Namespace) -> Dict[str, Any]:
    return {k: v for k, v in sorted(vars(opts).items())}
