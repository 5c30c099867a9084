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
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

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
    group.add_argument("--common.config-file", type=str, default=None,
                       help="YAML config; a relative path is also looked up under config/")
    group.add_argument("--common.seed", type=int, default=0, help="random seed")
    group.add_argument("--common.results-loc", type=str, default="results",
                       help="folder holding one sub-folder per run")
    group.add_argument("--common.run-label", type=str, default="run_1",
                       help="name of this run's sub-folder under common.results-loc")
    group.add_argument("--common.resume", type=str, default=None,
                       help="resume training from this checkpoint.pt")
    group.add_argument("--common.finetune", type=str, default=None,
                       help="initialise the model from these weights, skipping mismatching keys")
    group.add_argument("--common.finetune-ema", type=str, default=None,
                       help="initialise the EMA model from these weights")
    add_flag(group, "--common.auto-resume", help="continue from <results>/<run>/checkpoint.pt if it exists")
    add_flag(group, "--common.mixed-precision",
             help="mixed precision: float16 with gradient scaling on CUDA, bfloat16 on CPU")
    group.add_argument("--common.mixed-precision-dtype", type=str, default=None,
                       choices=["float16", "bfloat16"],
                       help="override the mixed-precision dtype (default: float16 on CUDA, bfloat16 on CPU)")
    add_flag(group, "--common.channels-last", help="train and evaluate in channels_last memory format")
    group.add_argument("--common.accum-freq", type=int, default=1,
                       help="accumulate gradients over this many iterations")
    group.add_argument("--common.accum-after-epoch", type=int, default=0,
                       help="start gradient accumulation at this epoch")
    group.add_argument("--common.log-freq", type=int, default=100, help="log every this many iterations")
    group.add_argument("--common.grad-clip", type=float, default=None, help="clip the gradient norm to this value")
    group.add_argument("--common.k-best-checkpoints", type=int, default=5,
                       help="average the weights of this many best epochs")
    group.add_argument("--common.device", type=str, default=None,
                       help="cpu or cuda (default: cuda when available)")
    return parser


def ddp_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Distributed training",
                                      "Launch with torchrun; these keys are read for compatibility.")
    add_flag(group, "--ddp.enable", default=True,
             help="use DistributedDataParallel when started by torchrun (a single process otherwise)")
    group.add_argument("--ddp.rank", type=int, default=0, help="node rank (torchrun sets RANK)")
    group.add_argument("--ddp.world-size", type=int, default=-1, help="world size (torchrun sets WORLD_SIZE)")
    group.add_argument("--ddp.dist-url", type=str, default=None, help="init URL (torchrun sets MASTER_ADDR)")
    group.add_argument("--ddp.dist-port", type=int, default=30786, help="port (torchrun sets MASTER_PORT)")
    group.add_argument("--ddp.backend", type=str, default=None, choices=["nccl", "gloo"],
                       help="process-group backend (default: nccl on CUDA, gloo on CPU)")
    add_flag(group, "--ddp.find-unused-parameters", help="let DDP tolerate parameters without gradients")
    return parser


def evaluation_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    modes = ["validation_set", "single_image", "image_folder"]
    group = parser.add_argument_group("Classification evaluation")
    group.add_argument("--evaluation.classification.mode", type=str, default="validation_set", choices=modes,
                       help="what to evaluate")
    group.add_argument("--evaluation.classification.path", type=str, default=None,
                       help="image or folder for the single_image and image_folder modes")
    group.add_argument("--evaluation.classification.top-k", type=int, default=5,
                       help="classes printed per image in the image modes")

    group = parser.add_argument_group("Detection evaluation")
    group.add_argument("--evaluation.detection.mode", type=str, default="validation_set", choices=modes,
                       help="what to evaluate")
    group.add_argument("--evaluation.detection.path", type=str, default=None,
                       help="image or folder for the single_image and image_folder modes")
    add_flag(group, "--evaluation.detection.resize-input-images",
             help="validation_set: resize images to the configured crop size before the forward pass "
                  "(without it, only down to multiples of 32); the image modes always resize")
    add_flag(group, "--evaluation.detection.save-overlay-boxes",
             help="also save validation images with the predicted boxes drawn")
    group.add_argument("--evaluation.detection.num-classes", type=int, default=None,
                       help="number of classes the model was trained with (default: the model's)")

    group = parser.add_argument_group("Segmentation evaluation")
    group.add_argument("--evaluation.segmentation.mode", type=str, default="validation_set", choices=modes,
                       help="what to evaluate")
    group.add_argument("--evaluation.segmentation.path", type=str, default=None,
                       help="image or folder for the single_image and image_folder modes")
    add_flag(group, "--evaluation.segmentation.resize-input-images",
             help="validation_set: resize images to the configured crop size before the forward pass "
                  "(without it, only down to multiples of the output stride); the image modes always resize")
    add_flag(group, "--evaluation.segmentation.apply-color-map", help="save colour-mapped masks")
    add_flag(group, "--evaluation.segmentation.save-overlay-rgb-pred",
             help="save the prediction blended over the image")
    add_flag(group, "--evaluation.segmentation.save-masks", help="save the predicted label masks as PNG")
    group.add_argument("--evaluation.segmentation.overlay-mask-weight", type=float, default=0.5,
                       help="weight of the mask in the overlay")
    group.add_argument("--evaluation.segmentation.num-classes", type=int, default=None,
                       help="number of classes the model was trained with (default: the model's)")
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
