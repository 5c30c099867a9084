"""The lock that keeps a run folder to one run at a time.

A run holds its folder's lock file for its whole life: an exclusive POSIX record lock
(``fcntl.lockf``) on a file that names the holder (pid, host, start time, command). The kernel drops
the lock when the holder ends in any way, SIGKILL included, so the lock a dead run left is taken
over by the next run; a run that ends normally also removes the file. A POSIX lock belongs to one
process: the loading processes a run forks do not hold it, and the processes of a distributed run
share the one lock their launcher (or, under torchrun, rank 0) holds.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Optional

from utils import logger
from utils.errors import ConfigError

_HELD: Dict[Path, "RunLock"] = {}  # the locks this process holds (POSIX locks do not exclude their own process)
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


def _holder() -> Dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.now().isoformat(sep=" ", timespec="seconds"),
            "command": " ".join([os.path.basename(sys.executable), *sys.argv])}


def _describe(holder: Optional[Dict[str, Any]]) -> str:
    if not holder:
        return "a run that is starting"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}, "
            f"command: {holder.get('command')}")


def _read_holder(path: Path) -> Optional[Dict[str, Any]]:
    """The holder a lock file names (``None`` while its holder has not written it yet)."""
    for _ in range(20):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            time.sleep(0.05)
    return None


class RunLock:
    """Context manager holding the lock file ``path`` of the run folder ``folder``.

    Args:
        path: the lock file (created when missing).
        folder: the run folder it guards (named in the refusal).
    """

    def __init__(self, path: Path, folder: Path) -> None:
        self.path, self.folder = Path(path), Path(folder)
        self._key = self.path.resolve()
        self._fd: Optional[int] = None
        self.holder: Optional[Dict[str, Any]] = None

    def _in_use(self, holder: Optional[Dict[str, Any]]) -> ConfigError:
        return ConfigError(f"{self.folder} is in use by another run ({_describe(holder)}); wait for it to end, "
                           f"or choose another --common.run-label")

    def _open_locked(self) -> Optional[int]:
        """A descriptor of the lock file holding the lock; ``None`` where the file system has no locks."""
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in _UNSUPPORTED:
                    logger.warning(f"the file system of {self.folder} does not support locks: nothing keeps "
                                   f"another run from writing there at the same time")
                    return None
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    raise self._in_use(_read_holder(self.path)) from None
                raise
            try:
                if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # its holder removed the file after we opened it: lock the new one
        raise self._in_use(_read_holder(self.path))

    def acquire(self) -> "RunLock":
        """Take the lock, or raise a :class:`ConfigError` naming the run that holds it."""
        if self._key in _HELD:
            raise self._in_use(_HELD[self._key].holder)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open_locked()
        if fd is None:
            return self
        left = os.read(fd, 1 << 16)
        if left.strip():  # a holder that ended without removing the file: killed, or its machine failed
            try:
                logger.log(f"Took over the lock of a run that ended without releasing it ({_describe(json.loads(left))})")
            except ValueError:
                pass
        self.holder = _holder()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.holder).encode("utf-8"), 0)
        os.fsync(fd)
        self._fd = fd
        _HELD[self._key] = self
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (nothing when it is not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
        _HELD.pop(self._key, None)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
