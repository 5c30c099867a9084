"""Assembly of the parser, and parsing: command line > YAML > defaults.

The parser is assembled from the entry points' own groups (``options.common``), the registries'
options as ``options/catalogue.json`` records them, and the groups a script adds (``extra``), so
that ``--help``, ``--print-config`` and option and config errors answer before torch is imported.
A run then checks the catalogue against the registries (which it imports anyway) and parses with
their own declarations when it is out of date; so does an option or config error in a program that
has imported torch already (its own model or loss may be registered since the catalogue was written).

Command-line names use dashes (``--model.classification.n-classes``); the underscore spelling
that YAML keys use is accepted too. Boolean options take an optional value:
``--common.auto-resume`` and ``--common.auto-resume true`` set it, ``--common.auto-resume false``
clears it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, List, Optional, Sequence

from options.catalogue import (REGENERATE, add_catalogued_options, arguments_components, catalogue_is_current,
                               declared_groups, stored_groups)
from options.common import arguments_common, arguments_ddp, arguments_evaluation, arguments_inference
from options.help import HELP_FLAGS, USAGE, HelpFormatter, add_help_options, help_text
from options.values import config_defaults
from utils.config_file import dump_yaml
from utils.errors import ConfigError
from utils.compile_settings import arguments_compile
from utils.opts import Options, opts_to_dict
from utils.zoo import config_for

Declare = Callable[[argparse.ArgumentParser], Any]
NO_CONFIG = ("no --common.config-file given: pass a config (config/classification/demo/parcnet_digits.yaml) or a "
             "model name (parcnet_s; parcnet.list_models() lists them); --help lists the options")


class OptionParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`ConfigError` instead of printing usage and exiting.

    Args:
        task: the task of the script (``eval_cls.py``: classification), whose options ``--help`` shows;
            ``None``: the config's ``dataset.category``.
    """

    def __init__(self, *args: Any, task: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.task = task
        self.extra: List[Declare] = []
        self.catalogued = False  # the registries' options come from the catalogue

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _assemble(description: str, extra: Iterable[Declare], task: Optional[str], components: Declare) -> OptionParser:
    parser = OptionParser(description=description, task=task, usage=USAGE, add_help=False)
    add_help_options(parser)
    arguments_common(parser)
    arguments_ddp(parser)
    arguments_inference(parser)
    arguments_compile(parser)
    components(parser)
    parser.extra = list(extra)
    for add in parser.extra:
        add(parser)
    return parser


def build_parser(description: str, extra: Iterable[Declare] = (), task: Optional[str] = None) -> OptionParser:
    """The parser of an entry point: every declared option, the registries' from the catalogue.

    Args:
        description: what the script does (the first line of ``--help``).
        extra: functions declaring the script's own option groups (``arguments_evaluation``).
        task: the script's task, for ``--help`` (``None``: the config's ``dataset.category``).

    Returns:
        The parser, for :func:`parse_options`.
    """
    parser = _assemble(description, extra, task, add_catalogued_options)
    parser.catalogued = True
    return parser


def declared_parser(parser: OptionParser) -> OptionParser:
    """``parser`` assembled from the registries' own declarations (imports them) instead of the catalogue."""
    return _assemble(parser.description or "", parser.extra, parser.task, arguments_components)


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


def _config_name(argv: Sequence[str]) -> Optional[str]:
    """The last ``--common.config-file`` value of ``argv`` (as argparse keeps the last)."""
    name = None
    for i, token in enumerate(argv):
        if token == "--common.config-file" and i + 1 < len(argv):
            name = argv[i + 1]
        elif token.startswith("--common.config-file="):
            name = token.partition("=")[2]
    return name


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str], config_path: Optional[Path]) -> Options:
    saved = {a.dest: a.default for a in parser._actions}
    try:
        if config_path is not None:
            parser.set_defaults(**config_defaults(parser, config_path))
        opts = parser.parse_args(argv, namespace=Options())
    finally:
        parser.set_defaults(**saved)
    setattr(opts, "common.config_file", str(config_path) if config_path else None)
    return opts


def _print_config_if_asked(opts: Options) -> None:
    """With ``--print-config``: print the resolved options as YAML and exit with status 0."""
    if vars(opts).pop("print_config", False):
        print(dump_yaml(opts_to_dict(opts)), end="")
        raise SystemExit(0)


def _may_be_stale(parser: argparse.ArgumentParser) -> bool:
    """Whether an error of the catalogue's parser is checked against the components' declarations:
    only where torch is loaded already (a program that imports the project and may register its own
    models or losses), so that the command-line scripts answer errors without importing it. The
    registries are compared as they are now, not as a cached check saw them."""
    return getattr(parser, "catalogued", False) and "torch" in sys.modules and declared_groups() != stored_groups()


def parse_options(parser: argparse.ArgumentParser, args: Optional[Sequence[str]] = None,
                  require_config: bool = False) -> Options:
    """Parse ``args`` (``sys.argv[1:]`` when None) over the YAML config over the defaults.

    ``--help`` / ``--help-all`` print the help (with the config's values) and ``--print-config`` the
    resolved options as YAML; both then exit with status 0, before anything heavy is imported.

    Args:
        parser: from :func:`build_parser` (or any :class:`OptionParser`).
        args: the command line; ``None``: ``sys.argv[1:]``.
        require_config: stop with a one-line error when no ``--common.config-file`` is given.

    Returns:
        The options, by dotted key (``getattr(opts, "common.seed")``).
    """
    argv = _normalise_argv(parser, list(sys.argv[1:] if args is None else args))
    name = _config_name(argv)
    config_path = config_for(name) if name else None
    if any(flag in argv for flag in HELP_FLAGS):
        config = config_defaults(parser, config_path) if config_path else {}
        print(help_text(parser, config, config_path, show_all="--help-all" in argv), end="")
        raise SystemExit(0)
    if require_config and config_path is None:
        raise ConfigError(NO_CONFIG)
    try:
        opts, stale = _parse(parser, argv, config_path), False
    except ConfigError:
        if not _may_be_stale(parser):
            raise
        opts, stale = None, True  # a component registered since the catalogue was written may declare the value
    if not stale:
        _print_config_if_asked(opts)  # before the check below, which imports the components
        stale = getattr(parser, "catalogued", False) and not catalogue_is_current()
    if stale:
        from utils import logger

        logger.warning(f"options/catalogue.json does not match the options the components declare ({REGENERATE} "
                       f"rewrites it): parsing with their declarations")
        opts = _parse(declared_parser(parser), argv, config_path)
        _print_config_if_asked(opts)
    return opts


def training_parser() -> OptionParser:
    """The parser of training (``main_train.py``), which declares every option a model reads."""
    return build_parser("Train a model from a YAML config.")


def get_training_arguments(args: Optional[Sequence[str]] = None) -> Options:
    """Options for training (``main_train.py``): a config is required."""
    return parse_options(training_parser(), args, require_config=True)


def get_eval_arguments(args: Optional[Sequence[str]] = None, task: Optional[str] = None) -> Options:
    """Options for evaluation (``eval_cls.py``, ``eval_det.py``, ``eval_seg.py``): a config is required.

    Args:
        args: the command line; ``None``: ``sys.argv[1:]``.
        task: the script's task (``classification``, ...), whose options ``--help`` shows.
    """
    return parse_options(build_parser("Evaluate a model.", extra=[arguments_evaluation], task=task), args,
                         require_config=True)
