"""Train a model from a YAML config.

    python main_train.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml
    torchrun --nproc_per_node 8 main_train.py --common.config-file ...

Options given on the command line override the config; ``--help`` lists them all.
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from utils.entry import run_entry


def main(args: Optional[Sequence[str]] = None) -> None:
    from engine.training import train
    from options import get_training_arguments

    train(get_training_arguments(args))


def cli() -> int:
    """The ``parcnet-train`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
