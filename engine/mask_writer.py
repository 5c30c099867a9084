"""Saving predicted segmentation masks as the ``evaluation.segmentation.*`` options ask."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple

import cv2
import numpy as np

from data.class_names import segmentation_class_names
from engine.run_folder import RunFolder
from utils.drawing import color_palette, draw_legend
from utils.image_files import write_image, write_palette_png


def asked_masks(opts: Any, default_color: bool = False) -> Tuple[bool, bool, bool]:
    """Which masks the options ask for: label PNGs, colour PNGs, overlays (with ``default_color``,
    colour PNGs when none is asked for)."""
    key = "evaluation.segmentation"
    asked = tuple(bool(getattr(opts, f"{key}.{name}"))
                  for name in ("save_masks", "apply_color_map", "save_overlay_rgb_pred"))
    return (False, True, False) if default_color and not any(asked) else asked


def mask_folders(opts: Any, run: RunFolder, default_color: bool = False) -> List[Path]:
    """The folders of the run that the masks asked for go to (see :func:`asked_masks`)."""
    folders = (run.label_masks, run.colour_masks, run.overlay_masks)
    return [folder for folder, asked in zip(folders, asked_masks(opts, default_color)) if asked]


class MaskWriter:
    """Writes label PNGs (``save_masks``), colour PNGs (``apply_color_map``) and the colours blended
    over the image (``save_overlay_rgb_pred``) into the run folder; :attr:`written` lists the
    files. With ``default_color``, colour PNGs are written when none is asked for."""

    def __init__(self, opts: Any, run: RunFolder, n_classes: int, default_color: bool = False) -> None:
        self.save_masks, self.color, self.overlay = asked_masks(opts, default_color)
        self.weight = float(getattr(opts, "evaluation.segmentation.overlay_mask_weight"))
        self.run = run
        self.bgr = np.array(color_palette(max(n_classes, 256)), dtype=np.uint8)
        self.names = segmentation_class_names(opts, n_classes)
        self.written: List[Path] = []

    @property
    def writes(self) -> bool:
        return self.save_masks or self.color or self.overlay

    def name(self, label: int) -> str:
        name = self.names[label] if label < len(self.names) else str(label)
        return f"class {name}" if name.isdigit() else name  # a data set without class names

    def __call__(self, mask: np.ndarray, name: str, image: Optional[np.ndarray] = None) -> None:
        """Write ``mask`` (label map) of the image named ``name`` (``image``: the picture, for the overlay)."""
        stem = Path(name).stem + ".png"
        if self.save_masks:
            self.written.append(write_image(self.run.label_masks / stem, mask.astype(np.uint8)))
        if self.color:
            self.written.append(write_palette_png(self.run.colour_masks / stem, mask,
                                                  self.bgr[:, ::-1].flatten().tolist()))
        if self.overlay and image is not None:
            blended = cv2.addWeighted(image, 1.0 - self.weight, self.bgr[mask], self.weight, 0)
            blended = draw_legend(blended, [(self.name(c), self.bgr[c]) for c in np.unique(mask)])
            self.written.append(write_image(self.run.overlay_masks / stem, blended))
