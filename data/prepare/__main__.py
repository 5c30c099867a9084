"""``python -m data.prepare {imagenet-val,sbd,coco-voc} ...``: see :mod:`data.prepare`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from data.prepare.files import METHODS
from utils.entry import run_entry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data.prepare",
                                     description="Prepare public data sets in the layouts the datasets read.")
    commands = parser.add_subparsers(dest="command", required=True)
    imagenet = commands.add_parser("imagenet-val", help="ImageNet validation images into class folders")
    imagenet.add_argument("--images", type=Path, required=True, help="folder of ILSVRC2012_val_*.JPEG")
    labels = imagenet.add_mutually_exclusive_group(required=True)
    labels.add_argument("--devkit", type=Path, help="ILSVRC2012_devkit_t12 folder or .tar.gz")
    labels.add_argument("--solution", type=Path, help="LOC_val_solution.csv")
    imagenet.add_argument("--out", type=Path, required=True, help="output folder (dataset.root_val)")
    imagenet.add_argument("--method", choices=METHODS, default="copy", help="how images are placed (default: copy)")
    sbd = commands.add_parser("sbd", help="SBD .mat masks to PNG, train_aug.txt and val.txt for PASCAL VOC")
    sbd.add_argument("--sbd", type=Path, required=True, help="benchmark_RELEASE/dataset (cls/, train.txt, val.txt)")
    sbd.add_argument("--voc", type=Path, required=True, help="folder holding VOC2012/ (dataset.root_train)")
    sbd.add_argument("--overwrite", action="store_true",
                     help="replace existing VOC2012/SegmentationClassAug masks and list/ files (without it, the "
                          "command stops before writing when they exist)")
    coco = commands.add_parser("coco-voc", help="COCO images with masks of the VOC classes, and their list")
    coco.add_argument("--coco", type=Path, required=True, help="COCO root (annotations/ and the images)")
    coco.add_argument("--out", type=Path, required=True, help="output folder (dataset.pascal.coco_root_dir)")
    coco.add_argument("--split", choices=["train", "val"], default="train", help="COCO split (default: train)")
    coco.add_argument("--min-side", type=int, default=256, help="leave out smaller images (default: 256)")
    coco.add_argument("--method", choices=METHODS, default="copy", help="how images are placed (default: copy)")
    coco.add_argument("--overwrite", action="store_true",
                      help="replace existing annot_<split>/ masks and <split>_2017.txt (without it, the command "
                           "stops before writing when they exist; images already placed are kept either way)")
    return parser


def main(args: Optional[Sequence[str]] = None) -> None:
    opts = build_parser().parse_args(args)
    if opts.command == "imagenet-val":
        from data.prepare.imagenet_val import labels_from_devkit, labels_from_solution, prepare_imagenet_val

        labels = labels_from_devkit(opts.devkit) if opts.devkit else labels_from_solution(opts.solution)
        prepare_imagenet_val(opts.images, opts.out, labels, opts.method)
    elif opts.command == "sbd":
        from data.prepare.sbd import prepare_sbd

        prepare_sbd(opts.sbd, opts.voc, opts.overwrite)
    else:
        from data.prepare.coco_voc import prepare_coco_voc

        prepare_coco_voc(opts.coco, opts.out, opts.split, opts.min_side, opts.method, opts.overwrite)


if __name__ == "__main__":
    sys.exit(run_entry(main))
