"""The command-line parser, assembled from every package's option declarations.

This package sits above all others: it collects the options the registered classes of ``cvnets``,
``data``, ``loss_fn``, ``metrics`` and ``optim`` declare, and nothing below imports it. Importing it
imports none of them: their options are read from ``options/catalogue.json`` (see
:mod:`options.catalogue`) until a run needs the components themselves. Components read options
with ``getattr(opts, "dotted.key")`` (no fallback: the parser fills every declared key, and reading
an undeclared one raises an error naming it and its reader).
"""
from options.catalogue import arguments_components
from options.common import arguments_common, arguments_ddp, arguments_evaluation, arguments_inference
from options.parser import (OptionParser, build_parser, get_eval_arguments, get_training_arguments, parse_options,
                            training_parser)

__all__ = ["OptionParser", "arguments_common", "arguments_components", "arguments_ddp", "arguments_evaluation",
           "arguments_inference", "build_parser", "get_eval_arguments", "get_training_arguments", "parse_options",
           "training_parser"]
