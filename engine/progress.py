"""Progress bars that leave log files readable."""
from __future__ import annotations

import sys
from typing import Any, Iterable, TextIO

from tqdm import tqdm

LOG_INTERVAL_S = 30.0  # at most one bar line per this many seconds in a log file


class LineStream:
    """Where a bar writes when its output goes to a file (a redirected stderr, maybe shared with
    stdout): every redraw becomes a whole line and the clearing redraws write nothing, so no line
    of the log is left half-written for the next message to join."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Iterable, description: str, enabled: bool, **kwargs: Any) -> tqdm:
    """A tqdm bar over ``iterable`` on stderr.

    Args:
        iterable: what the bar counts.
        description: the bar's label.
        enabled: ``False`` shows nothing (ranks other than the main one).
        kwargs: more tqdm arguments (``total``, ``initial``, ...).

    Returns:
        The bar. On a terminal it is redrawn in place and disappears when done; written to a file,
        it is a whole line at most every :data:`LOG_INTERVAL_S` seconds (:class:`LineStream`), so
        that the lines printed meanwhile and after it (the validation results) stand alone.
    """
    if sys.stderr.isatty():
        return tqdm(iterable, desc=description, disable=not enabled, dynamic_ncols=True, leave=False,
                    file=sys.stderr, **kwargs)
    return tqdm(iterable, desc=description, disable=not enabled, ncols=100, leave=True,
                mininterval=LOG_INTERVAL_S, file=LineStream(sys.stderr), **kwargs)
