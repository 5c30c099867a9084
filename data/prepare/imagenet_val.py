"""ImageNet-1k validation images (one flat folder, ``ILSVRC2012_val_00000001.JPEG`` ...) sorted
into one folder per class, named by WordNet ID as the training folders are.

The labels come from either
- the ILSVRC2012 devkit (folder or ``.tar.gz``): ``data/ILSVRC2012_validation_ground_truth.txt``
  holds one ILSVRC2012_ID per image in file-name order, and ``data/meta.mat`` maps the IDs of the
  1000 leaf synsets (those without children) to WordNet IDs; or
- ``LOC_val_solution.csv`` (the ImageNet localization challenge): ``ImageId,PredictionString``,
  the WordNet ID being the first word of the prediction string.
"""
from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path
from typing import Dict, Tuple

from data.datasets.listing import is_hidden
from data.prepare.files import place_file
from utils import logger
from utils.errors import DataError

GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
META = "data/meta.mat"


def _devkit_files(devkit: Path) -> Tuple[bytes, bytes]:
    """The bytes of ``meta.mat`` and of the ground-truth file of a devkit folder or archive."""
    if devkit.is_dir():
        paths = [devkit / META, devkit / GROUND_TRUTH]
        for path in paths:
            if not path.is_file():
                raise DataError(f"devkit {devkit}: {path.relative_to(devkit)} not found")
        return paths[0].read_bytes(), paths[1].read_bytes()
    if not devkit.is_file():
        raise DataError(f"devkit not found: {devkit}")
    try:
        with tarfile.open(devkit) as archive:
            found = {}
            for member in archive.getmembers():
                for wanted in (META, GROUND_TRUTH):
                    if member.isfile() and member.name.endswith(wanted):
                        found[wanted] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"cannot read devkit archive {devkit}: {exc}") from None
    for wanted in (META, GROUND_TRUTH):
        if wanted not in found:
            raise DataError(f"devkit archive {devkit} holds no .../{wanted}")
    return found[META], found[GROUND_TRUTH]


def labels_from_devkit(devkit: Path) -> Dict[str, str]:
    """``{image file name: WordNet ID}`` from the ILSVRC2012 devkit."""
    import scipy.io

    meta, truth = _devkit_files(Path(devkit))
    synsets = scipy.io.loadmat(io.BytesIO(meta), squeeze_me=True)["synsets"]
    wnid_of = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets if int(s["num_children"]) == 0}
    labels = {}
    for number, line in enumerate(truth.decode().split(), start=1):
        if int(line) not in wnid_of:
            raise DataError(f"devkit {devkit}: ground truth line {number} names ILSVRC2012_ID {line}, "
                            f"which is not one of the {len(wnid_of)} leaf synsets of meta.mat")
        labels[f"ILSVRC2012_val_{number:08d}.JPEG"] = wnid_of[int(line)]
    return labels


def labels_from_solution(csv_file: Path) -> Dict[str, str]:
    """``{image file name: WordNet ID}`` from ``LOC_val_solution.csv``."""
    if not Path(csv_file).is_file():
        raise DataError(f"solution file not found: {csv_file}")
    labels = {}
    with open(csv_file, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"ImageId", "PredictionString"} <= set(reader.fieldnames or ()):
            raise DataError(f"{csv_file}: expected the columns ImageId,PredictionString, got {reader.fieldnames}")
        for row in reader:
            words = row["PredictionString"].split()
            if not words:
                raise DataError(f"{csv_file}: image {row['ImageId']} has an empty PredictionString")
            labels[f"{row['ImageId']}.JPEG"] = words[0]
    return labels


def prepare_imagenet_val(images: Path, out: Path, labels: Dict[str, str], method: str = "copy") -> int:
    """Place every labelled image of ``images`` at ``out/<WordNet ID>/<file name>``; returns the
    number of images in the class folders. A labelled image that is missing is an error."""
    images, out = Path(images), Path(out)
    if not images.is_dir():
        raise DataError(f"image folder not found: {images}")
    missing = [name for name in labels if not (images / name).is_file() and not (out / labels[name] / name).is_file()]
    if missing:
        raise DataError(f"{len(missing)} labelled images are not in {images}, the first {missing[0]}")
    placed = sum(place_file(images / name, out / wnid / name, method) for name, wnid in sorted(labels.items())
                 if not (out / wnid / name).exists())
    unlabelled = len({p.name for p in images.glob("*.JPEG") if not is_hidden(p.name)} - set(labels))
    logger.log(f"ImageNet validation: {len(labels)} images in {len(set(labels.values()))} class folders under "
               f"{out} ({placed} placed now, by {method})"
               + (f"; {unlabelled} images of {images} have no label and were left" if unlabelled else ""))
    return len(labels)
