import os

import pytest

from mlvc import parallel
from mlvc.progress import NULL_PROGRESS


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@pytest.mark.parametrize("jobs,processes", [(1, False), (4, False), (2, True)])
def test_results_keep_input_order(jobs, processes, monkeypatch):
    monkeypatch.setattr(parallel, "PROCESS_MIN_ITEMS", 10)
    items = list(range(1000))
    out = parallel.run_batched(items, square_and_pid, jobs, NULL_PROGRESS, "x",
                               processes=processes)
    assert [v for v, _ in out] == [x * x for x in items]
    pids = {p for _, p in out}
    if processes and (os.cpu_count() or 1) > 1:
        assert os.getpid() not in pids  # the work ran in forked workers
    else:
        assert pids == {os.getpid()}


def test_empty_input():
    assert parallel.run_batched([], square_and_pid, 4, NULL_PROGRESS, "x") == []


def test_threaded_yields_every_result_or_exception_with_bounded_queue():
    import threading
    import time

    from mlvc.parallel import threaded

    in_flight = 0
    peak = 0
    lock = threading.Lock()
    started = []

    def work(x):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            started.append(x)
        time.sleep(0.001)
        with lock:
            in_flight -= 1
        if x % 7 == 0:
            raise ValueError(x)
        return x * 2

    def items():
        for i in range(200):
            # The producer is never more than jobs * 4 ahead of what has finished.
            assert len(started) >= i - 3 * 4 - 3
            yield i

    out = dict(threaded(items(), work, 3))
    assert sorted(out) == list(range(200))
    for i, r in out.items():
        if i % 7 == 0:
            assert isinstance(r, ValueError) and r.args == (i,)
        else:
            assert r == i * 2
    assert 1 < peak <= 3
