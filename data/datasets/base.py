"""Base of the image datasets: roots, and skipping of unreadable samples."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Collection, Dict, Hashable, List, Optional, Tuple

from torch.utils.data import Dataset

from data.datasets.image_io import shown
from utils import logger
from utils.errors import DataError
from utils.random_state import GENERATORS, seeded_draws

_CACHED_CHAINS = 64  # transform chains a dataset keeps (one per size and split; a few in practice)


def evaluation_transform(opts: Any, task: str, size: Tuple[int, int]) -> Any:
    """The input transform of evaluation: resize to ``size`` (height, width) when
    ``evaluation.<task>.resize_input_images`` is set, else keep the original size; then a (uint8)
    tensor."""
    from data.transforms import Compose, Resize, ToUint8Tensor

    resize = bool(getattr(opts, f"evaluation.{task}.resize_input_images"))
    return Compose(([Resize(opts, size)] if resize else []) + [ToUint8Tensor(opts)])


class BaseImageDataset(Dataset):
    """A dataset whose items are addressed by ``(crop_h, crop_w, index)`` from the batch samplers.

    ``__getitem__`` returns ``None`` for a sample whose files cannot be read, after logging their
    paths; the collate function drops it, so the other samples keep their places.

    ``classes`` names the labels in order (``None`` where the dataset does not name them); a
    training run saves them beside its checkpoints (see :mod:`data.datasets.labels`).

    Samples end in :class:`~data.transforms.ToUint8Tensor`: their images are uint8 tensors that the
    training step and the evaluation loop normalise on their device. Transform chains are built
    once per size (:meth:`cached`), in each loading process, not once per sample.
    """

    classes: Optional[List[str]] = None

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        self.opts = opts
        self.is_training, self.is_evaluation = is_training, is_evaluation
        key = "dataset.root_train" if is_training else "dataset.root_val"
        self.root_option = key
        self.root = getattr(opts, key) or ""

    def check_root(self) -> Path:
        if not self.root:
            raise DataError(f"{self.root_option} is not set: give the dataset folder on the command line "
                            f"(--{self.root_option.replace('_', '-')} PATH) or in the config")
        root = Path(self.root).expanduser()
        if not root.is_dir():
            raise DataError(f"{self.root_option}: dataset folder not found: {self.root}")
        return root

    @classmethod
    def classes_at(cls, root: Path, opts: Any) -> Optional[List[str]]:
        """The class names (label order) of a training set of this kind at ``root``; ``None`` when
        there is none there or the dataset does not name its classes."""
        return None

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        raise NotImplementedError

    def cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The object ``build()`` made for ``key`` (a transform chain and its size) the first time
        it was asked for in this process."""
        chains = self.__dict__.setdefault("_chains", {})
        if key not in chains:
            if len(chains) >= _CACHED_CHAINS:
                chains.clear()
            chains[key] = build()
        return chains[key]

    def sample_draws(self, size: Tuple[int, int]) -> Collection[str]:
        """The random generators a sample of ``size`` draws from (all, unless a dataset knows better)."""
        return GENERATORS

    def __getitem__(self, item: Tuple[int, ...]) -> Optional[Dict[str, Any]]:
        """``item`` is ``(crop_h, crop_w, index)`` or, from the batch samplers, ``(crop_h, crop_w,
        index, seed)``: the sample's random draws then come from ``seed``."""
        crop_h, crop_w, index = item[:3]
        try:
            if len(item) > 3:
                with seeded_draws(item[3], self.sample_draws((crop_h, crop_w))):
                    return self.get_sample(index, (crop_h, crop_w))
            return self.get_sample(index, (crop_h, crop_w))
        except DataError as exc:
            logger.warning(f"skipping sample {index}: {shown(str(exc))}")
            return None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser

    def __repr__(self) -> str:
        split = "train" if self.is_training else "val"
        return f"{type(self).__name__}(root={self.root}, split={split}, samples={len(self)})"
