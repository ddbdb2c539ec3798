"""Running per-file work in batches: in this process, in threads, or in forked workers."""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple, TypeVar

from mlvc.progress import NULL_PROGRESS, Advance, ByteMeter, Progress, drop_meter, metering

T = TypeVar("T")
R = TypeVar("R")
BATCH = 64
PROCESS_MIN_ITEMS = 2048
BYTES_BAR_MIN = 256 << 20  # from this much data, a bytes bar beside the files bar


class Codec(NamedTuple):
    """How a worker's results cross from a forked worker: ``pack`` makes one a plain tuple
    (of str, int, None), ``unpack`` makes it again. Pickling a NamedTuple runs Python code
    per object on both sides (~25 us for an ``Imported``); a plain tuple pickles in C (~1 us).
    ``fused``, when given, is what a forked worker runs instead of ``pack(fn(x))``: the same
    packed result, made without the objects in between.
    """

    pack: Callable[[Any], tuple]
    unpack: Callable[[tuple], Any]
    fused: Callable[[Any], tuple] | None = None


# What forked workers inherit instead of receiving it pickled: the function, the codec's
# ``pack``, the batches and the stop flag. Only batch numbers go through the pool's pipe.
_FORK_FN: Callable | None = None
_FORK_PACK: Callable | None = None
_FORK_BATCHES: list[list] = []
_FORK_STOP: Any = b"\0"


def _run_in_child(index: int) -> list:
    assert _FORK_FN is not None
    return _run_batch(_FORK_FN, _FORK_PACK, _FORK_BATCHES[index], _FORK_STOP)


def _run_batch(fn: Callable, pack: Callable | None, batch: list, stop: Any) -> list:
    """``fn`` (then ``pack``) of each item, until ``stop[0]`` is set: then the rest of the
    batch is skipped (the caller is giving up on it)."""
    out = []
    add = out.append
    for x in batch:
        if stop[0]:
            break
        add(fn(x) if pack is None else pack(fn(x)))
    return out


def _child_init() -> None:
    """Set up a forked worker: drop the parent's locks, die with the parent, and leave
    Ctrl-C to the parent.

    A terminal's Ctrl-C sends SIGINT to every process of the job. A worker that took it
    would die wherever it was, between two system calls of a file or inside the pool's own
    queues (which breaks the pool: its manager thread then failed on CPython 3.11 with
    ``InvalidStateError``, and its shutdown could hang). The parent stops its workers
    instead (see ``run_batched``), and kills its ``in_background`` children.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    drop_meter()
    from mlvc.lock import HELD_FDS

    for fd in list(HELD_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    HELD_FDS.clear()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def run_batched(items: list, fn: Callable, jobs: int, progress: Progress, desc: str,
                unit: str = "file", processes: bool = False, codec: Codec | None = None,
                size: Callable[[Any], int] | None = None) -> list:
    """``[fn(x) for x in items]`` in batches, with one progress phase.

    Work that is mostly system calls on small files is CPU-bound in this process (Python plus
    kernel time), so threads only fight over the GIL. With ``processes`` and enough items,
    the batches run in forked worker processes, one per core, which share nothing but the
    filesystem; ``fn`` and the items must not need this process's SQLite connection.
    Otherwise a thread pool of ``jobs`` threads is used (for work that waits on I/O).
    Workers inherit the items when they are forked; the results come back pickled, through
    ``codec`` when one is given.

    With ``size`` (the bytes of an item) and ``BYTES_BAR_MIN`` bytes or more in all, a
    bytes bar goes beside the files bar. The passes over big files move it as they go (see
    ``mlvc.progress.ByteMeter``), so a few big files do not sit at 0/1 for minutes; files
    done in forked workers count whole as they come back.

    If this process is interrupted (Ctrl-C) or fails while workers run, they finish the
    item in hand and skip the rest, so it stops at once and every file operation that began
    is complete; then the exception goes on.
    """
    if not items:
        return []
    batches = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]
    results: list = []
    cores = min(jobs, os.cpu_count() or 1)
    total = sum(map(size, items)) if size is not None and progress is not NULL_PROGRESS else 0
    with progress.phase(desc, total=len(items), unit=unit) as advance, \
            _bytes_phase(progress, desc, total) as advance_bytes:
        if processes and cores > 1 and len(items) >= PROCESS_MIN_ITEMS and hasattr(os, "fork"):
            def on_batch(batch: list) -> None:
                advance(len(batch))
                if advance_bytes is not None:
                    advance_bytes(sum(map(size, batch)))  # type: ignore[arg-type]

            _in_processes(fn, codec, batches, cores, results, on_batch)
            return results
        if advance_bytes is not None:
            assert size is not None
            plain, meter = fn, ByteMeter(advance_bytes)

            def fn(x):  # noqa: F811 - the same work, through the meter
                return meter.run(plain, x, size(x))
        with metering(meter) if advance_bytes is not None else nullcontext():
            if jobs <= 1 or len(batches) == 1:
                for batch in batches:
                    results.extend(fn(x) for x in batch)
                    advance(len(batch))
            else:
                from concurrent.futures import ThreadPoolExecutor

                halt = bytearray(1)
                _drain(ThreadPoolExecutor(max_workers=jobs),
                       lambda b: _run_batch(fn, None, b, halt), batches, 1, batches, halt, None,
                       results, lambda batch: advance(len(batch)))
    return results


@contextmanager
def _bytes_phase(progress: Progress, desc: str, total: int) -> Iterator[Advance | None]:
    if total < BYTES_BAR_MIN:
        yield None
        return
    with progress.phase(f"{desc} bytes", total=total, unit="B") as advance:
        yield advance


def _in_processes(fn: Callable, codec: Codec | None, batches: list[list], cores: int,
                  results: list, on_batch: Callable[[list], None]) -> None:
    """The batches in forked workers (see :func:`run_batched`)."""
    import mmap
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _FORK_FN, _FORK_PACK, _FORK_BATCHES, _FORK_STOP
    stop: Any = mmap.mmap(-1, 1)  # anonymous and shared: forked workers see it set
    pack = codec and codec.pack
    if codec is not None and codec.fused is not None:
        fn, pack = codec.fused, None
    _FORK_FN, _FORK_PACK, _FORK_BATCHES, _FORK_STOP = fn, pack, batches, stop
    try:
        pool = ProcessPoolExecutor(cores, initializer=_child_init,
                                   mp_context=multiprocessing.get_context("fork"))
        _drain(pool, _run_in_child, range(len(batches)), 8, batches, stop,
               codec and codec.unpack, results, on_batch)
    finally:
        _FORK_FN, _FORK_PACK, _FORK_BATCHES, _FORK_STOP = None, None, [], b"\0"
        stop.close()


def _drain(pool: Any, call: Callable, args: Iterable, chunksize: int, batches: list[list],
           stop: Any, unpack: Callable | None, results: list,
           on_batch: Callable[[list], None]) -> None:
    """Collect ``pool.map(call, args)`` (one list per batch) into ``results``, in order,
    telling ``on_batch`` of each batch done.

    On Ctrl-C or any failure, ``stop`` is set, so the workers finish the item in hand and
    skip the rest, and the queued batches are cancelled; the pool is shut down either way.
    """
    with interrupts_deferred(lambda: stop.__setitem__(0, 1)) as interrupted:
        try:
            for batch, out in zip(batches, pool.map(call, args, chunksize=chunksize)):
                if interrupted():
                    break
                results.extend(out if unpack is None else map(unpack, out))
                on_batch(batch)
        finally:
            stop[0] = 1  # finished, failed or interrupted: no worker takes another item
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def interrupts_deferred(on_interrupt: Callable[[], None]) -> Iterator[Callable[[], bool]]:
    """Within the block, Ctrl-C calls ``on_interrupt`` (which should ask the workers to
    stop) instead of raising KeyboardInterrupt wherever the main thread is; the block asks
    the yielded ``interrupted()`` where it can stop, and KeyboardInterrupt is raised when it
    ends.

    A KeyboardInterrupt raised inside the pools' own locking (``Condition.__enter__`` has
    taken the lock but not yet returned) leaves the lock taken: the workers then wait for it
    forever, and so does the shutdown that waits for them. Seen with 47,000 batches: 4 of 10
    interrupted runs hung. Outside the main thread, or when Ctrl-C is not the default
    KeyboardInterrupt (ignored, or handled by the caller), nothing changes.
    """
    import threading

    from mlvc.procs import Terminated, raise_terminated

    hits: list[int] = []
    # (SIGTERM too, when the CLI turned it into Terminated, a KeyboardInterrupt)
    ours = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: raise_terminated}
    mine = [s for s, h in ours.items() if signal.getsignal(s) is h] \
        if threading.current_thread() is threading.main_thread() else []
    if not mine:
        yield lambda: False
        return

    def handler(signum: int, frame: object) -> None:
        hits.append(signum)
        on_interrupt()

    for s in mine:
        signal.signal(s, handler)
    try:
        yield lambda: bool(hits)
    finally:
        for s in mine:
            signal.signal(s, ours[s])
    if hits:
        raise Terminated if signal.SIGTERM in hits else KeyboardInterrupt


def threaded(items: Iterable[T], fn: Callable[[T], R], jobs: int
             ) -> Iterator[tuple[T, R | BaseException]]:
    """Yield ``(item, fn(item))`` as each call finishes, in a pool of ``jobs`` threads.

    For work that waits on the network or a disk. A call that raises yields its exception
    instead of a result; the rest go on. At most ``jobs * 4`` calls are queued at a time, so
    memory stays bounded however many items there are. On an interrupt, queued calls are
    cancelled and the interrupt is raised once the running ones return.

    Submitting and waiting run with Ctrl-C deferred (see :func:`interrupts_deferred`): a
    KeyboardInterrupt raised inside an ``Event``'s wait can leave its lock released, and the
    pool's shutdown then fails with "release unlocked lock" instead of stopping. The caller's
    own code between two results is interrupted as usual.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    it = iter(items)
    limit = max(1, jobs) * 4
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    pending: dict = {}
    try:
        while True:
            with interrupts_deferred(_nothing) as interrupted:
                for item in it:
                    pending[pool.submit(fn, item)] = item
                    if len(pending) >= limit:
                        break
                finished: Iterable = ()
                while pending and not finished and not interrupted():
                    # (a timeout, so that a Ctrl-C is taken while a long call runs)
                    finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if not pending:
                return
            for future in finished:
                item = pending.pop(future)
                exc = future.exception()
                yield item, (exc if exc is not None else future.result())
    finally:
        with interrupts_deferred(_nothing):
            pool.shutdown(wait=True, cancel_futures=True)


def _nothing() -> None:
    pass


@contextmanager
def in_background(fn: Callable[..., R], *args, fork: bool = True) -> Iterator[Callable[[], R]]:
    """Start ``fn(*args)`` in a forked child while this process goes on; yield a getter.

    For a burst of system calls (such as 50,000 ``stat``) that can overlap other work in
    this process: threads would only take turns holding the GIL. The result comes back
    pickled through a pipe, so ``fn`` must return something small. If the child fails in
    any way, or ``fork`` is false, or the machine has one core, the getter computes
    ``fn(*args)`` here instead, so its exceptions are raised as if called directly. A child
    whose result was never asked for is killed when the block exits.
    """
    done: list = []

    def here() -> R:
        if not done:
            done.append(fn(*args))
        return done[0]

    if not fork or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        yield here
        return
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which leaves through os._exit
        code = 1
        try:
            os.close(r)
            _child_init()
            data = pickle.dumps(fn(*args))
            with os.fdopen(w, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    reaped = False

    def get() -> R:
        nonlocal reaped
        if not done and not reaped:
            with os.fdopen(r, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            reaped = True
            if os.waitstatus_to_exitcode(status) == 0:
                done.append(pickle.loads(data))
        return here()

    try:
        yield get
    finally:
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.close(r)
            except OSError:
                pass  # get() closed it before it was interrupted
            os.waitpid(pid, 0)
