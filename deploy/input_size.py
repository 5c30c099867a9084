"""The input size of the deployment commands: ``--benchmark.input-size`` and ``--export.input-size``
take one side or a height and a width; without them, the config's crop size."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

from data.samplers import crop_size
from utils.errors import ConfigError


def given_size(values: Optional[Sequence[int]], option: str) -> Optional[Tuple[int, int]]:
    """``(height, width)`` of the option's values (one side for both, or height and width), ``None``
    when it is not set; a :class:`ConfigError` naming ``option`` for another count or a side
    below 1."""
    if not values:
        return None
    if len(values) not in (1, 2) or min(values) < 1:
        raise ConfigError(f"{option} takes one side or a height and a width, each at least 1; got "
                          f"{' '.join(map(str, values))}")
    return int(values[0]), int(values[-1])


def input_size(opts: Any, option: str) -> Tuple[int, int]:
    """``(height, width)``: the ``option``'s (see :func:`given_size`), else the config's crop size
    (:func:`data.samplers.crop_size`).

    Args:
        opts: the options.
        option: ``benchmark.input_size`` or ``export.input_size``.

    Returns:
        The input's height and width.
    """
    return given_size(getattr(opts, option), option) or crop_size(opts)
