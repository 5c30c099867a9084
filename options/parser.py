"""Assembly of the parser from the registries, and parsing: command line > YAML > defaults.

Command-line names use dashes (``--model.classification.n-classes``); the underscore spelling
that YAML keys use is accepted too. Boolean options take an optional value:
``--common.auto-resume`` and ``--common.auto-resume true`` set it, ``--common.auto-resume false``
clears it.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Iterable, List, Optional, Sequence

from cvnets import arguments_model
from data import arguments_data
from loss_fn import arguments_loss
from metrics import arguments_stats
from optim import arguments_optim
from options.common import arguments_common, arguments_ddp, arguments_evaluation, arguments_inference
from options.values import config_defaults
from utils.config_file import resolve_config_path
from utils.errors import ConfigError
from utils.opts import Options
from utils.compile_settings import arguments_compile


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: ...)`` to an option's help unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        return text if "(default:" in text else super()._get_help_string(action)


class OptionParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`ConfigError` instead of printing usage and exiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def arguments_components(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options declared by the registries of models, data, losses, optimizers and metrics."""
    for add in (arguments_data, arguments_model, arguments_loss, arguments_optim, arguments_stats):
        add(parser)
    return parser


def build_parser(description: str, extra: Iterable[Callable[[argparse.ArgumentParser], Any]] = ()) -> OptionParser:
    parser = OptionParser(description=description)
    arguments_common(parser)
    arguments_ddp(parser)
    arguments_inference(parser)
    arguments_compile(parser)
    arguments_components(parser)
    for add in extra:
        add(parser)
    return parser


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


def parse_options(parser: argparse.ArgumentParser, args: Optional[Sequence[str]] = None) -> Options:
    """Parse ``args`` (``sys.argv[1:]`` when None) over the YAML config over the defaults."""
    argv = _normalise_argv(parser, list(sys.argv[1:] if args is None else args))
    first, _ = parser.parse_known_args(argv, namespace=Options())
    config_name = getattr(first, "common.config_file")
    config_path = None
    if config_name:
        config_path = resolve_config_path(config_name)
        saved = {a.dest: a.default for a in parser._actions}
        try:
            parser.set_defaults(**config_defaults(parser, config_path))
            opts = parser.parse_args(argv, namespace=Options())
        finally:
            parser.set_defaults(**saved)
    else:
        opts = parser.parse_args(argv, namespace=Options())
    setattr(opts, "common.config_file", str(config_path) if config_path else None)
    return opts


def training_parser() -> OptionParser:
    """The parser of training (``main_train.py``), which declares every option a model reads."""
    return build_parser("Train a model from a YAML config.")


def get_training_arguments(args: Optional[Sequence[str]] = None) -> Options:
    """Options for training (``main_train.py``)."""
    return parse_options(training_parser(), args)


def get_eval_arguments(args: Optional[Sequence[str]] = None) -> Options:
    """Options for evaluation (``eval_cls.py``, ``eval_det.py``, ``eval_seg.py``)."""
    return parse_options(build_parser("Evaluate a model.", extra=[arguments_evaluation]), args)
