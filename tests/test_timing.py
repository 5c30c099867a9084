"""The one timing routine (utils/timing.py): paired rounds, alternating order, an untimed lead-in
run of the same candidate before each timed one; a second clock read around the timed runs; and
the spread of paired ratios."""
import pytest

from utils import timing
from utils.timing import Spread, paired_clocks, paired_times, ratio_spread, spread_text


class FakeClock:
    """A clock that the candidates advance: a run costs 10 after another candidate's run (spinning
    threads, cold caches) and 1 after its own."""

    def __init__(self):
        self.now, self.calls = 0.0, []

    def __call__(self):
        return self.now

    def candidate(self, name):
        def run():
            self.now += 1.0 if self.calls and self.calls[-1] == name else 10.0
            self.calls.append(name)
        return run


@pytest.mark.parametrize("lead_in, expected", [
    (0, {"a": [10.0, 10.0, 1.0, 10.0], "b": [10.0, 1.0, 10.0, 1.0]}),  # charged for the other candidate
    (1, {"a": [1.0] * 4, "b": [1.0] * 4}), (2, {"a": [1.0] * 4, "b": [1.0] * 4})])
def test_timed_runs_follow_a_lead_in_run_of_the_same_candidate(monkeypatch, lead_in, expected):
    clock = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    times = paired_times({"a": clock.candidate("a"), "b": clock.candidate("b")}, warmup=1, repeats=4,
                         lead_in=lead_in)
    assert times == expected
    assert len(clock.calls) == 2 + 4 * 2 * (1 + lead_in)
    timed_rounds = clock.calls[2:]
    per_candidate = 1 + lead_in
    firsts = timed_rounds[::per_candidate]
    assert firsts == ["a", "b", "b", "a", "a", "b", "b", "a"]  # the order alternates round by round


def test_ratio_spread_of_paired_series():
    spread = ratio_spread([2.0, 4.0, 6.0, 8.0, 10.0], [1.0, 2.0, 2.0, 2.0, 2.0])
    assert spread == Spread(median=3.0, q1=2.0, q3=4.0, low=2.0, high=5.0)
    assert str(spread) == "3.000 (interquartile range 2.000 to 4.000, min 2.000, max 5.000)"


@pytest.mark.parametrize("lead_in", [0, 1, 2])
def test_a_second_clock_is_read_around_the_timed_runs_only(monkeypatch, lead_in):
    """The second clock counts the runs themselves (run ``k`` of a candidate costs ``k`` on it):
    only the timed runs' readings come back, the warmup's and the lead-ins' left out."""
    clock, cpu, calls = FakeClock(), [0.0], {"a": 0, "b": 0}
    monkeypatch.setattr(timing.time, "perf_counter", clock)

    def candidate(name):
        run = clock.candidate(name)

        def counted():
            calls[name] += 1
            cpu[0] += calls[name]
            run()
        return counted

    wall, clocked = paired_clocks({"a": candidate("a"), "b": candidate("b")}, warmup=1, repeats=3,
                                  clock=lambda: cpu[0], lead_in=lead_in)
    assert len(wall["a"]) == len(wall["b"]) == 3
    timed = [1 + (lead_in + 1) * k for k in range(1, 4)]  # after the warmup run, every (lead_in + 1)th
    assert clocked == {"a": [float(k) for k in timed], "b": [float(k) for k in timed]}


def test_spread_text():
    assert spread_text(Spread(1.0, 0.95, 1.104, 0.9, 1.2).rounded()) == "median 1.00, IQR 0.95-1.10, range 0.90-1.20"
