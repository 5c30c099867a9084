"""Running an ExecuTorch program (``.pte``) with the ``executorch.runtime`` Python bindings (its
XNNPACK delegate included). ExecuTorch is optional (``requirements-deploy.txt``)."""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import torch

from deploy.agreement import Run
from deploy.optional import require


def load_program(path: Path) -> Run:
    """A function running the ``forward`` method of the ExecuTorch program at ``path`` on a float32
    NCHW array (the batch the program was exported for) and returning its outputs as arrays."""
    require("executorch", "running an ExecuTorch program")
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(x: np.ndarray) -> List[np.ndarray]:
        return [out.numpy() for out in method.execute([torch.from_numpy(np.ascontiguousarray(x))])]

    return run
