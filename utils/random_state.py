"""Capturing and restoring the random generators of a process, and seeding one sample's draws.

Exact resumption needs every generator a training step draws from: Python's ``random``, NumPy's
global generator, torch's CPU generator and each CUDA device's. The states are kept as plain
containers and tensors, so they travel in a ``weights_only`` checkpoint.

A sample's augmentations draw from the generators named in :data:`GENERATORS`; a transform says
which ones it uses in its ``draws`` attribute (a transform without one is taken to draw from all),
and only those are seeded for the sample: seeding is cheap (microseconds) while ``torch.manual_seed``
also seeds every accelerator's generator.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Collection, Dict, Iterable, Iterator, List

import numpy as np
import torch
from torch.utils.data import get_worker_info

GENERATORS = ("python", "numpy", "torch")  # random, numpy.random, torch's CPU generator


def capture_rng_state() -> Dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)
    state: Dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
                         "has_gauss": numpy_state["has_gauss"], "gauss": numpy_state["gauss"]})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# the constants of NumPy's SeedSequence (a pool of 4 words of 32 bits)
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_LEFT, _MIX_RIGHT = 0xCA01F9DD, 0x4973F715
_WORD = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(16)


def _seed_sequence_words(entropy: List[np.ndarray]) -> List[np.ndarray]:
    """The two 32-bit words that ``SeedSequence(entropy).generate_state(1, np.uint64)`` starts
    with, for columns of 32-bit entropy words (at most 4 of them), element-wise."""
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = (value ^ np.uint64(hash_const)) & _WORD
        hash_const = (hash_const * _MULT_A) & 0xFFFFFFFF
        value = (value * np.uint64(hash_const)) & _WORD
        return value ^ (value >> _SHIFT)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = (np.uint64(_MIX_LEFT) * x - np.uint64(_MIX_RIGHT) * y) & _WORD
        return result ^ (result >> _SHIFT)

    zeros = np.zeros_like(entropy[0])
    mixer = [hashmix(word) for word in entropy + [zeros] * (4 - len(entropy))]
    for source in range(4):
        for target in range(4):
            if source != target:
                mixer[target] = mix(mixer[target], hashmix(mixer[source]))
    words, hash_const = [], _INIT_B
    for i in range(2):
        value = mixer[i] ^ np.uint64(hash_const)
        hash_const = (hash_const * _MULT_B) & 0xFFFFFFFF
        value = (value * np.uint64(hash_const)) & _WORD
        words.append(value ^ (value >> _SHIFT))
    return words


def sample_seeds(seed: int, epoch: int, indices: Iterable[int]) -> List[int]:
    """The seeds of the random draws of samples ``indices`` in one epoch (independent of workers
    and resumption): ``SeedSequence([seed, epoch, index])``'s first 64-bit word, halved; computed
    for all indices at once."""
    index = np.asarray(list(indices), dtype=np.int64)
    if index.size == 0:
        return []
    if not (0 <= seed < 2 ** 32 and 0 <= epoch < 2 ** 32 and 0 <= index.min() and index.max() < 2 ** 32):
        return [int(np.random.SeedSequence([seed, epoch, int(i)]).generate_state(1, dtype=np.uint64)[0] >> 1)
                for i in index]
    column = index.astype(np.uint64)
    low, high = _seed_sequence_words([np.full_like(column, seed), np.full_like(column, epoch), column])
    return [int(v) for v in ((high << np.uint64(32)) | low) >> np.uint64(1)]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one sample's random draws in one epoch (see :func:`sample_seeds`)."""
    return sample_seeds(seed, epoch, [index])[0]


def draws_of(transforms: Iterable[Any]) -> frozenset:
    """The generators that ``transforms`` draw from: the union of their ``draws`` (all of
    :data:`GENERATORS` for one that does not say)."""
    used: set = set()
    for transform in transforms:
        used.update(getattr(transform, "draws", GENERATORS))
    return frozenset(used)


@contextmanager
def seeded_draws(seed: int, generators: Collection[str] = GENERATORS) -> Iterator[None]:
    """Run the block with the ``generators`` (names from :data:`GENERATORS`) seeded by ``seed``, the
    others untouched. Outside a data loading process the process's own states are given back after
    the block (training draws from them); a loading process reseeds for each sample, so it keeps none.
    """
    restore = get_worker_info() is None
    saved = {}
    if "python" in generators:
        saved["python"] = random.getstate() if restore else None
        random.seed(seed)
    if "numpy" in generators:
        saved["numpy"] = np.random.get_state() if restore else None
        np.random.seed(seed % 2 ** 32)
    if "torch" in generators:
        saved["torch"] = torch.default_generator.get_state() if restore else None
        torch.default_generator.manual_seed(seed)  # what torch.manual_seed does to the CPU generator
    try:
        yield
    finally:
        if restore:
            if "python" in saved:
                random.setstate(saved["python"])
            if "numpy" in saved:
                np.random.set_state(saved["numpy"])
            if "torch" in saved:
                torch.default_generator.set_state(saved["torch"])
