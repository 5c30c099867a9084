"""Running a command-line entry point: user errors become one line on stderr and exit status 2;
a training run stopped by a signal says how to resume and exits with 128 + the signal number."""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable, NoReturn

from utils.errors import ParcError, TrainingInterrupted


def run_entry(main: Callable[[], None], quiet: bool = False) -> int:
    """Run ``main``; a :class:`ParcError` becomes one line on stderr (none when ``quiet``, e.g. on
    the ranks of a distributed run other than 0) and an exit status."""
    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        main()
    except TrainingInterrupted as exc:
        say(str(exc))
        return exc.exit_code
    except ParcError as exc:
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    return 0


def end_worker(code: int) -> NoReturn:
    """End a process of a distributed run with exit status ``code`` once its work is done (files
    closed, process group left), without the interpreter's teardown: the communication backend's
    threads can still be alive then and abort a worker whose run completed (SIGABRT, "terminate
    called without an active exception"), which fails the whole launch. Output is flushed first."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    os._exit(code)
