"""Write the demo data sets made from the bundled digits.

    python -m data.demo.prepare --task classification --out data/demo/generated/digits
    python -m data.demo.prepare --task detection --out data/demo/generated/digits_coco
    python -m data.demo.prepare --task segmentation --out data/demo/generated/digits_voc
    python -m data.demo.prepare --task ade20k --out data/demo/generated/digits_ade
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

from data.demo.ade20k import write_ade20k_set
from data.demo.detection import write_detection_set
from data.demo.digits import write_classification_folder
from data.demo.segmentation import write_segmentation_set

TASKS = ("classification", "detection", "segmentation", "ade20k")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=TASKS, default="classification",
                        help="which data set to write (detection: COCO format with boxes and masks; segmentation: "
                             "PASCAL VOC format; ade20k: the ADE20K layout)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of the generated pictures")
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    if args.task == "classification":
        n_train, n_val = write_classification_folder(args.out, seed=args.seed)
        print(f"wrote {n_train} training and {n_val} validation images to {args.out}")
    elif args.task == "detection":
        counts = write_detection_set(args.out, seed=args.seed)
        print(f"wrote {counts['train']} training and {counts['val']} validation boxes to {args.out}")
    elif args.task == "segmentation":
        counts = write_segmentation_set(args.out, seed=args.seed)
        print(f"wrote {counts['train']} training and {counts['val']} validation images to {args.out}")
    else:
        counts = write_ade20k_set(args.out, seed=args.seed)
        print(f"wrote {counts['training']} training and {counts['validation']} validation images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
