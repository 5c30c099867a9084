"""What the native image decoders (libjpeg, libpng, ...) print while one file is decoded.

They write their warnings straight to the process's standard error (file descriptor 2), without
the file's name; capturing that descriptor around one decode ties each warning to its file.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from typing import IO, Iterator, List

_LOCK = threading.Lock()  # descriptor 2 is the process's: one capture at a time
_SINK: List[IO[bytes]] = []  # the file that receives the output, made when first needed


def _forked() -> None:
    """In a new process (a data loading worker): a lock of its own, and a file of its own."""
    global _LOCK
    _LOCK = threading.Lock()
    _SINK.clear()


os.register_at_fork(after_in_child=_forked)


def _sink() -> int:
    if not _SINK:
        _SINK.append(tempfile.TemporaryFile(buffering=0))
    return _SINK[0].fileno()


@contextlib.contextmanager
def decoder_output(lines: List[str]) -> Iterator[None]:
    """Send what is written to file descriptor 2 inside the ``with`` block to a private file and
    append its non-empty lines to ``lines``. Without a descriptor 2, nothing is captured.

    Args:
        lines: receives the captured lines, stripped.
    """
    with _LOCK:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        sink = _sink()
        if sys.stderr is not None:
            sys.stderr.flush()  # what Python has buffered belongs to the real stream
        os.dup2(sink, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            written = os.lseek(sink, 0, os.SEEK_CUR)
            if written:
                os.lseek(sink, 0, os.SEEK_SET)
                text = os.read(sink, written).decode("utf-8", "replace")
                os.ftruncate(sink, 0)
                os.lseek(sink, 0, os.SEEK_SET)
                lines.extend(line.strip() for line in text.splitlines() if line.strip())
