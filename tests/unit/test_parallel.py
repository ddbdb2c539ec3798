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
