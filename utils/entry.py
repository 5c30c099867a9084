"""Running a command-line entry point: user errors become one line on stderr and exit status 2."""
from __future__ import annotations

import sys
from typing import Callable

from utils.errors import ParcError


def run_entry(main: Callable[[], None]) -> int:
    try:
        main()
    except ParcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
