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


def test_forked_workers_inherit_the_items_and_results_cross_through_the_codec(monkeypatch):
    import threading

    monkeypatch.setattr(parallel, "PROCESS_MIN_ITEMS", 10)
    # A lock cannot be pickled: the items reach the workers only by being inherited.
    items = [(i, threading.Lock()) for i in range(300)]
    codec = parallel.Codec(lambda r: ("packed", r[0], os.getpid()),
                           lambda t: {"value": t[1], "packed_in": t[2]})
    out = parallel.run_batched(items, lambda item: (item[0] * 3, item[1]), 2, NULL_PROGRESS,
                               "x", processes=True, codec=codec)
    assert [r["value"] for r in out] == [i * 3 for i in range(300)]
    if (os.cpu_count() or 1) > 1:
        assert os.getpid() not in {r["packed_in"] for r in out}
    assert parallel._FORK_BATCHES == [] and parallel._FORK_FN is None


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


def test_in_background_runs_in_a_child_and_returns_its_result():
    with parallel.in_background(square_and_pid, 7) as result:
        value, pid = result()
        assert result() == (value, pid)  # asked twice, computed once
    assert value == 49
    if (os.cpu_count() or 1) > 1:
        assert pid != os.getpid()


def test_in_background_without_fork_computes_here_when_asked(tmp_path):
    calls = []
    with parallel.in_background(lambda: calls.append(1) or os.getpid(), fork=False) as result:
        assert calls == []
        assert result() == os.getpid()
        result()
    assert calls == [1]


def fail(path: str) -> None:
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    raise ValueError("no")


def test_in_background_failure_is_raised_here(tmp_path):
    """A child that fails hands over nothing: the getter runs fn here, and its error shows."""
    log = tmp_path / "calls"
    with parallel.in_background(fail, str(log)) as result, pytest.raises(ValueError, match="no"):
        result()
    pids = [int(x) for x in log.read_text().split()]
    assert pids[-1] == os.getpid()
    if (os.cpu_count() or 1) > 1:
        assert len(pids) == 2  # the child tried first


def sleep_then_write(path: str) -> int:
    import time

    time.sleep(5)
    with open(path, "w") as f:
        f.write("late")
    return 1


def test_in_background_child_is_killed_when_not_asked(tmp_path):
    import time

    started = time.monotonic()
    with parallel.in_background(sleep_then_write, str(tmp_path / "late")):
        pass
    assert time.monotonic() - started < 4  # killed, not waited for


def _until(check) -> None:
    """Python runs a signal handler at the main thread's next check; give it a few."""
    import time

    for _ in range(100):
        if check():
            return
        time.sleep(0.001)


def test_ctrl_c_in_a_deferred_block_calls_back_and_is_raised_when_the_block_ends():
    import signal

    called = []
    reached_end = False
    with pytest.raises(KeyboardInterrupt), \
            parallel.interrupts_deferred(lambda: called.append(1)) as interrupted:
        assert not interrupted()
        os.kill(os.getpid(), signal.SIGINT)
        _until(interrupted)
        assert interrupted() and called == [1]
        reached_end = True  # the interrupt did not land in the middle of the block
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_made_terminated_by_the_cli_is_deferred_as_ctrl_c_is():
    import signal

    from mlvc.procs import Terminated, raise_terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        called = []
        with pytest.raises(Terminated), \
                parallel.interrupts_deferred(lambda: called.append(1)) as interrupted:
            os.kill(os.getpid(), signal.SIGTERM)
            _until(interrupted)
            assert called == [1]
        assert signal.getsignal(signal.SIGTERM) is raise_terminated
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_deferral_leaves_an_ignored_or_handled_ctrl_c_alone():
    import signal

    seen = []
    for handler in (signal.SIG_IGN, lambda signum, frame: seen.append(signum)):
        previous = signal.signal(signal.SIGINT, handler)
        try:
            with parallel.interrupts_deferred(lambda: seen.append("callback")) as interrupted:
                os.kill(os.getpid(), signal.SIGINT)
                _until(lambda: bool(seen))
                assert not interrupted()
            assert signal.getsignal(signal.SIGINT) is handler
        finally:
            signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT]  # the caller's handler ran; the callback did not


def test_deferral_outside_the_main_thread_changes_nothing():
    import signal
    import threading

    out = []

    def other():
        with parallel.interrupts_deferred(lambda: None) as interrupted:
            out.append(interrupted())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert out == [False]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_workers_stop_taking_items_once_asked():
    stop = bytearray(1)
    seen = []

    def work(x):
        seen.append(x)
        if x == 3:
            stop[0] = 1
        return x * 2

    assert parallel._run_batch(work, None, list(range(10)), stop) == [0, 2, 4, 6]
    assert seen == [0, 1, 2, 3]
    stop[0] = 0
    assert parallel._run_batch(lambda x: x, lambda r: ("p", r), [1, 2], stop) == [("p", 1),
                                                                                 ("p", 2)]


def test_threaded_takes_a_ctrl_c_while_waiting_on_the_pool_at_a_safe_point(monkeypatch):
    """A KeyboardInterrupt raised inside ``wait`` (inside an Event's lock) broke the pool's
    shutdown ("release unlocked lock"): Ctrl-C there is taken once ``wait`` has returned,
    the queued calls are cancelled, and KeyboardInterrupt comes out of the loop."""
    import concurrent.futures
    import signal
    import threading
    import time

    real_wait = concurrent.futures.wait
    waits = []

    def wait_hit_by_ctrl_c(*args, **kwargs):
        if not waits:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here: without deferral, it raises here
        result = real_wait(*args, **kwargs)
        waits.append(1)
        return result

    monkeypatch.setattr(concurrent.futures, "wait", wait_hit_by_ctrl_c)
    ran = []
    lock = threading.Lock()

    def work(x):
        time.sleep(0.01)
        with lock:
            ran.append(x)
        return x

    got = []
    with pytest.raises(KeyboardInterrupt):
        for item, _ in parallel.threaded(range(1000), work, 2):
            got.append(item)
    assert waits  # the wait that the Ctrl-C hit returned
    assert got == []  # raised before any result was handed out
    assert len(ran) <= 2 * 4  # the queued calls went no further
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class Phases:
    """A Progress that keeps each phase's total, unit and advances."""

    def __init__(self):
        self.phases = {}

    def phase(self, desc, total=None, unit="file"):
        from contextlib import contextmanager

        @contextmanager
        def opened():
            got = self.phases.setdefault((desc, unit), {"total": total, "advances": []})
            yield got["advances"].append

        return opened()


def _read_in_parts(item):
    from mlvc.progress import meter

    for _ in range(item % 3):  # a long pass over a part of the item, as a big file's
        meter(2)
    return item


@pytest.mark.parametrize("jobs,processes", [(1, False), (4, False), (2, True)])
def test_a_bytes_bar_goes_beside_the_files_bar_from_enough_bytes(jobs, processes,
                                                                monkeypatch):
    monkeypatch.setattr(parallel, "PROCESS_MIN_ITEMS", 10)
    monkeypatch.setattr(parallel, "BYTES_BAR_MIN", 1000)
    items = list(range(300))
    seen = Phases()
    out = parallel.run_batched(items, _read_in_parts, jobs, seen, "Adding",
                               processes=processes, size=lambda x: 10)
    assert out == items
    files, data = seen.phases[("Adding", "file")], seen.phases[("Adding bytes", "B")]
    assert files["total"] == 300 and sum(files["advances"]) == 300
    assert data["total"] == 3000 and sum(data["advances"]) == 3000
    if not processes:  # in this process, files move the bar as they are read
        assert 2 in data["advances"]
    # Below BYTES_BAR_MIN, or with no progress to draw, there is no bytes bar.
    few = Phases()
    parallel.run_batched(items[:50], _read_in_parts, jobs, few, "Adding",
                         processes=processes, size=lambda x: 10)
    assert ("Adding bytes", "B") not in few.phases
