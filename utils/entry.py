"""Running a command-line entry point: user errors become one line on stderr and exit status 2;
a training run stopped by a signal says how to resume and exits with 128 + the signal number."""
from __future__ import annotations

import sys
from typing import Callable

from utils.errors import ParcError, TrainingInterrupted


def run_entry(main: Callable[[], None]) -> int:
    try:
        main()
    except TrainingInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except ParcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
