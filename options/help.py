"""``--help`` as a user reads it: a short usage line, the option groups of one task, and next to
each default the value the given config sets."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

TASKS = ("classification", "detection", "segmentation")
# options whose names do not say their task: the datasets and batch augmentations of one task
_TASK_OF_PREFIX = {"dataset.pascal.": "segmentation", "dataset.ade20k.": "segmentation", "dataset.coco.": "detection",
                   "image_augmentation.mixup.": "classification", "image_augmentation.cutmix.": "classification"}
USAGE = "%(prog)s --common.config-file CONFIG [--KEY VALUE ...] [--help | --help-all | --print-config]"
HELP_FLAGS = ("-h", "--help", "--help-all")


def add_help_options(parser: argparse.ArgumentParser) -> None:
    """``--help``, ``--help-all`` and ``--print-config``: answered by :func:`options.parse_options`."""
    group = parser.add_argument_group("Help")
    group.add_argument("-h", "--help", action="store_true", default=argparse.SUPPRESS,
                       help="show the options of the config's task (dataset.category) with the config's values, "
                            "and exit")
    group.add_argument("--help-all", action="store_true", default=argparse.SUPPRESS,
                       help="show the options of every task, and exit")
    group.add_argument("--print-config", action="store_true", default=argparse.SUPPRESS,
                       help="print the resolved options (command line > config > defaults) as YAML, as a run saves "
                            "them in config.yaml, and exit")


def option_task(dest: str) -> Optional[str]:
    """The task an option belongs to, ``None`` for every task (the classification models are the
    backbones of detection and segmentation)."""
    for prefix, task in _TASK_OF_PREFIX.items():
        if dest.startswith(prefix):
            return task
    parts = dest.split(".")
    if parts[:2] == ["model", "classification"]:
        return None
    return next((task for task in TASKS if task in parts), None)


def group_task(group: argparse._ArgumentGroup) -> Optional[str]:
    """The task of every option of ``group``, ``None`` when they are not all of one task."""
    tasks = {option_task(action.dest) for action in group._group_actions}
    return tasks.pop() if len(tasks) == 1 else None


def show_value(value: Any) -> str:
    """A value as the help shows it (booleans as the command line takes them)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class HelpFormatter(argparse.HelpFormatter):
    """Says each option's default once (unless its help states it) and, after it, the value the
    given config sets (``config``: dotted key -> value); metavars name the type (INT, FLOAT, TEXT)."""

    def __init__(self, prog: str, config: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(prog, max_help_position=40)
        self.config = config or {}

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        kind = getattr(action.type, "__name__", "value")
        return {"str": "TEXT", "yaml value": "YAML"}.get(kind, kind.upper())

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if "(default:" not in text:
            text += f" (default: {show_value(action.default).replace('%', '%%')})"
        if action.dest in self.config:
            start = text.rindex("(default:")
            end, depth = start, 0
            for end in range(start, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            value = show_value(self.config[action.dest]).replace("%", "%%")
            text = f"{text[:end]}; config: {value}{text[end:]}"
        return text


def _shown_groups(parser: argparse.ArgumentParser, task: Optional[str]) -> Tuple[List[Any], int]:
    """The groups to show for ``task`` (all for ``None``) and how many are left out."""
    groups = [g for g in parser._action_groups if g._group_actions]
    shown = [g for g in groups if task is None or group_task(g) in (None, task)]
    return shown, len(groups) - len(shown)


def help_text(parser: argparse.ArgumentParser, config: Dict[str, Any], config_path: Optional[Path],
              show_all: bool = False) -> str:
    """The help of ``parser``.

    Args:
        parser: an assembled :class:`options.OptionParser` (its ``task`` is the script's, if any).
        config: the values the config sets (dotted key -> value), shown next to the defaults.
        config_path: the config file, ``None`` when none was given.
        show_all: show the groups of every task.

    Returns:
        The text to print.
    """
    defaults = {a.dest: a.default for a in parser._actions}
    task = getattr(parser, "task", None) or (config.get("dataset.category", defaults.get("dataset.category"))
                                             if config_path else None)
    shown, hidden = _shown_groups(parser, None if show_all else task)
    formatter = HelpFormatter(parser.prog, config)
    formatter.add_usage(parser.usage, parser._actions, [])
    formatter.add_text(parser.description)
    notes = ["Values: the command line, else the config, else the defaults."]
    if config_path:
        notes.append(f"'config: VALUE' after a default is the value that {config_path} sets.")
    if hidden:
        whose = "this script's" if getattr(parser, "task", None) else "the config's dataset.category"
        notes.append(f"The option groups of {task} ({whose}) and of every task are shown; --help-all also shows "
                     f"the {hidden} groups of other tasks.")
    elif not config_path:
        notes.append("Give --common.config-file CONFIG to see its values and only its task's options.")
    formatter.add_text(" ".join(notes))
    for group in shown:
        formatter.start_section(group.title)
        formatter.add_text(group.description)
        formatter.add_arguments(group._group_actions)
        formatter.end_section()
    return formatter.format_help()
