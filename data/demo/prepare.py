"""Write the demo data sets made from the bundled digits.

    python -m data.demo.prepare --task classification --out data/demo/generated/digits
    python -m data.demo.prepare --task detection --out data/demo/generated/digits_coco
    python -m data.demo.prepare --task segmentation --out data/demo/generated/digits_voc
    python -m data.demo.prepare --task ade20k --out data/demo/generated/digits_ade

The set is written into a temporary folder beside ``--out`` and renamed to it once complete: an
interrupted run leaves no half-written set. An existing ``--out`` stops the command unless
``--overwrite`` is given (the pictures are the same for the same ``--seed``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from data.demo.ade20k import write_ade20k_set
from data.demo.detection import write_detection_set
from data.demo.digits import write_classification_folder
from data.demo.segmentation import write_segmentation_set
from utils.entry import run_entry
from utils.outputs import refuse_to_replace, staged

TASKS = ("classification", "detection", "segmentation", "ade20k")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data.demo.prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=TASKS, default="classification",
                        help="which data set to write (detection: COCO format with boxes and masks; segmentation: "
                             "PASCAL VOC format; ade20k: the ADE20K layout)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (it must not exist, unless --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out folder, once the new set is complete")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of the generated pictures")
    return parser


def write_set(task: str, out: Path, seed: int) -> str:
    """Write the ``task`` demo set into ``out``; returns what was written, in words."""
    if task == "classification":
        n_train, n_val = write_classification_folder(out, seed=seed)
        return f"{n_train} training and {n_val} validation images"
    if task == "detection":
        counts = write_detection_set(out, seed=seed)
        return f"{counts['train']} training and {counts['val']} validation boxes"
    if task == "segmentation":
        counts = write_segmentation_set(out, seed=seed)
        return f"{counts['train']} training and {counts['val']} validation images"
    counts = write_ade20k_set(out, seed=seed)
    return f"{counts['training']} training and {counts['validation']} validation images"


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.overwrite:
        refuse_to_replace([args.out], "overwrite")
    with staged([args.out]) as (folder,):
        written = write_set(args.task, folder, args.seed)
    print(f"wrote {written} to {args.out}")


if __name__ == "__main__":
    sys.exit(run_entry(main))
