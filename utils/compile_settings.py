"""The ``common.compile*`` options and what they ask of ``torch.compile`` (no torch import here:
the parser declares them before torch is loaded)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Dict, Optional

from utils.errors import ConfigError
from utils.opts import add_options

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")


def arguments_compile(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Compilation (torch.compile)")
    add_options(group, "--common", [
        ("compile", False, "compile the model with torch.compile for training and evaluation (one graph per "
                           "input shape: the variable batch sampler's sizes, evaluation batches)"),
        ("compile-mode", "default", "torch.compile mode (reduce-overhead: CUDA graphs)",
         dict(choices=COMPILE_MODES)),
        ("compile-backend", "inductor", "torch.compile backend (aot_eager, eager: to look for a compiler fault)",
         dict(choices=COMPILE_BACKENDS)),
    ])
    return parser


@dataclass(frozen=True)
class CompileSettings:
    """How ``torch.compile`` compiles the model: its ``mode`` and ``backend``."""

    mode: str = "default"
    backend: str = "inductor"

    @classmethod
    def from_opts(cls, opts: Any) -> Optional["CompileSettings"]:
        """The settings of ``common.compile*``; ``None`` when ``common.compile`` is off."""
        if not getattr(opts, "common.compile"):
            return None
        mode, backend = getattr(opts, "common.compile_mode"), getattr(opts, "common.compile_backend")
        if mode not in COMPILE_MODES:
            raise ConfigError(f"common.compile_mode: choose one of {', '.join(COMPILE_MODES)}, got {mode!r}")
        if backend not in COMPILE_BACKENDS:
            raise ConfigError(f"common.compile_backend: choose one of {', '.join(COMPILE_BACKENDS)}, got {backend!r}")
        return cls(mode, backend)

    def compile_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of ``torch.compile``."""
        kwargs: Dict[str, Any] = {"backend": self.backend}
        if self.backend == "inductor" and self.mode != "default":
            kwargs["mode"] = self.mode
        return kwargs

    def __str__(self) -> str:
        return f"backend {self.backend}, mode {self.mode}"
