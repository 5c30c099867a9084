"""The path the options object takes through a training run: every function of the project that
receives it, in call order. The helpers in utils/ sit below the engine; a run whose start bounces
between them (engine/ down to utils/ and back up) has its concepts spread over both."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, List

from conftest import ROOT, training_opts
from helpers_training import tiny_args, write_small_digits

MAX_RETURNS_TO_ENGINE = 10


def options_path(opts: Any, run: Callable[[], Any]) -> List[str]:
    """The files (relative to the project) of the functions that receive ``opts`` as an argument
    while ``run()`` runs, one entry per call, in call order."""
    files: List[str] = []

    def profile(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        if any(frame.f_locals.get(name) is opts for name in names):
            path = Path(code.co_filename).resolve()
            if path.is_relative_to(ROOT) and not path.relative_to(ROOT).parts[0].startswith("."):  # not .venv
                files.append(path.relative_to(ROOT).as_posix())

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return files


def returns_to_engine(files: List[str]) -> int:
    """How often the path goes from a file in utils/ to one in engine/."""
    tops = [f.split("/")[0] for f in files]
    return sum(1 for a, b in zip(tops, tops[1:]) if (a, b) == ("utils", "engine"))


def test_returns_to_engine_counts_transitions_in_call_order():
    path = ["engine/training.py", "utils/runtime.py", "utils/runtime.py", "engine/run_folder.py", "data/loaders.py",
            "utils/opts.py", "engine/trainer.py", "utils/opts.py", "optim/schedulers.py"]
    assert returns_to_engine(path) == 2


def test_a_training_run_takes_the_options_back_up_from_utils_to_engine_at_most_ten_times(tmp_path):
    from engine.training import train

    data = write_small_digits(tmp_path / "digits", per_class_train=2, per_class_val=1, size=24)
    opts = training_opts(tiny_args(data, tmp_path / "results", "run", epochs=1))
    path = options_path(opts, lambda: train(opts))
    assert path[0] == "engine/training.py" and "engine/trainer.py" in path  # the whole run was followed
    assert returns_to_engine(path) <= MAX_RETURNS_TO_ENGINE, "\n".join(path)
