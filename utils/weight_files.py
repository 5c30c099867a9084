"""Weight files (released state_dicts and training checkpoints): safe reads, and loading their weights
into a model with clear mismatch errors."""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

import torch
from torch import Tensor, nn

from utils.errors import CheckpointError

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def check_local_path(path: str, what: str) -> Path:
    if _URL.match(str(path)):
        raise CheckpointError(f"{what} must be a local file, not a URL ({path}): nothing is downloaded at run time; "
                              f"download it yourself and pass its path")
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise CheckpointError(f"{what} not found: {path} (no file {resolved.absolute()})")
    return resolved


def _refusal(path: os.PathLike, what: str, message: str) -> str:
    """One line saying why ``torch.load(weights_only=True)`` refused a file."""
    found = re.search(r"(?:GLOBAL|global:?) ([\w.]+)", message)
    culprit = f" (it references {found.group(1)})" if found else ""
    return (f"{what} {path} is refused: it holds Python objects other than tensors and plain containers"
            f"{culprit}, which could run code when loaded; only weights and training checkpoints are read")


def read_checkpoint(path: os.PathLike, what: str = "checkpoint", weights_only: bool = True, mmap: bool = False) -> Any:
    """Load a checkpoint file on the CPU with ``weights_only`` (tensors and plain containers only);
    ``mmap``: map its tensors instead of reading them (cheap when only a few entries are needed; files
    of torch's legacy format are read whole)."""
    resolved = check_local_path(str(path), what)
    try:
        return torch.load(resolved, map_location="cpu", weights_only=weights_only,
                          mmap=mmap and zipfile.is_zipfile(resolved))
    except Exception as exc:  # torch raises many kinds for truncated, foreign or unsafe files
        if isinstance(exc, OSError):
            raise CheckpointError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
        if not _looks_like_torch_file(resolved):
            raise CheckpointError(f"cannot read {what} {path}: not a complete PyTorch checkpoint (a truncated "
                                  f"file, or another kind of file)") from None
        if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in str(exc):
            raise CheckpointError(_refusal(path, what, str(exc))) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read {what} {path}: {first}") from None


def _looks_like_torch_file(path: Path) -> bool:
    """A zip archive (``torch.save``'s format) or a pickle (its legacy format)."""
    with open(path, "rb") as handle:
        start = handle.read(1)
    return zipfile.is_zipfile(path) or start == b"\x80"


def state_dict_from(obj: Any, path: os.PathLike = "<memory>") -> Dict[str, Tensor]:
    """The model weights in a released file (a plain state_dict) or a training ``checkpoint.pt``,
    without any ``module.`` prefix that DistributedDataParallel adds."""
    if isinstance(obj, Mapping) and "model_state_dict" in obj:
        obj = obj["model_state_dict"]
    elif isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds no model weights (expected a state_dict of tensors)")
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _mismatches(model: nn.Module, state: Mapping[str, Tensor],
                ignore: Tuple[str, ...] = ()) -> Tuple[List[str], List[str], List[str]]:
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(ignore)}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return missing, unexpected, shapes


def _preview(keys: List[str], n: int = 5) -> str:
    more = f", ... ({len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_state_dict_strict(model: nn.Module, state: Mapping[str, Tensor], source: str,
                           ignore: Tuple[str, ...] = ()) -> None:
    """``load_state_dict(strict=True)`` whose error lists the first differing keys. Entries whose
    names start with one of the ``ignore`` prefixes are left out on both sides (the model keeps its own)."""
    state = {k: v for k, v in state.items() if not k.startswith(ignore)}
    missing, unexpected, shapes = _mismatches(model, state, ignore)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_preview(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {_preview(shapes, 3)}")
        raise CheckpointError(f"weights in {source} do not match the model; " + "; ".join(parts))
    model.load_state_dict(state, strict=not ignore)


def load_weights(model: nn.Module, path: os.PathLike, what: str = "weights", ignore: Tuple[str, ...] = ()) -> None:
    """Load a released file or training checkpoint into ``model`` with strict key matching, except
    for the entries under the ``ignore`` prefixes."""
    state = state_dict_from(read_checkpoint(path, what), path)
    load_state_dict_strict(model, state, str(path), ignore)


def load_matching(model: nn.Module, state: Mapping[str, Tensor]) -> List[str]:
    """Load the entries whose names and shapes match; return the keys that were skipped."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    skipped = sorted(set(own) - set(usable)) + sorted(set(state) - set(own))
    model.load_state_dict(usable, strict=False)
    return skipped

