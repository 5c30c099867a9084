"""The command-line parser, assembled from every package's option declarations.

This package sits above all others: it imports ``cvnets``, ``data``, ``loss_fn``, ``metrics`` and
``optim`` to collect the options their registered classes declare, and nothing below imports it.
Components read options with ``getattr(opts, "dotted.key")`` (no fallback: the parser fills every
declared key, and reading an undeclared one raises an error naming it and its reader).
"""
from options.common import arguments_common, arguments_ddp, arguments_evaluation, arguments_inference
from options.parser import (OptionParser, build_parser, get_eval_arguments, get_training_arguments, parse_options,
                            training_parser)

__all__ = ["OptionParser", "arguments_common", "arguments_ddp", "arguments_evaluation", "arguments_inference",
           "build_parser", "get_eval_arguments", "get_training_arguments", "parse_options", "training_parser"]
