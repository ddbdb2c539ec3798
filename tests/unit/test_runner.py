"""Running a stage's commands (mlvc.pipeline.runner)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from mlvc.pipeline.model import Stage
from mlvc.pipeline.runner import INTERRUPTED, RunOutcome, run_stage
from mlvc.procs import Commands, descendants


def test_commands_run_in_order_and_the_first_failure_ends_the_stage(tmp_path):
    stage = Stage("s", ("echo a > one.txt", "exit 3", "echo b > two.txt"))
    outcome = run_stage(tmp_path, stage)
    assert (outcome.returncode, outcome.failed_cmd) == (3, "exit 3")
    assert (tmp_path / "one.txt").read_text() == "a\n" and not (tmp_path / "two.txt").exists()


def test_once_stopping_no_command_starts(tmp_path):
    # Ctrl-C seen by the scheduling thread: a stage whose thread reaches its command only
    # now must not start it (it would never get the interrupt, and repro would wait for it).
    stop = Commands(own_groups=False)
    stop.stop(None)
    outcome = run_stage(tmp_path, Stage("s", ("echo x > ran.txt",)), stop=stop)
    assert outcome.returncode == INTERRUPTED and not (tmp_path / "ran.txt").exists()
    # …nor the next command of a stage that was running when it came.
    seen = []

    def output(line: str) -> None:
        seen.append(line)
        stop.stop(None)

    stop = Commands(own_groups=False)
    stage = Stage("s", ("echo a", "echo b > two.txt"))
    outcome = run_stage(tmp_path, stage, output, stop)
    assert seen == ["a"] and outcome == RunOutcome(INTERRUPTED, "echo b > two.txt")
    assert not (tmp_path / "two.txt").exists()


# A command that says it started, then sleeps: started by the stage's shell, so that a
# signal must reach the shell's child, not the shell alone.
SLEEPER = (f"{sys.executable} -c \"import time; open('started', 'w').close(); "
           "time.sleep(30)\"; echo after > after.txt")


def run_in_thread(tmp_path, stop: Commands) -> tuple[threading.Thread, list]:
    done: list = []
    thread = threading.Thread(target=lambda: done.append(
        run_stage(tmp_path, Stage("s", (SLEEPER,)), stop=stop)))
    thread.start()
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    return thread, done


@pytest.mark.parametrize(("own_groups", "sig"), [
    (True, signal.SIGINT), (True, signal.SIGTERM), (False, signal.SIGTERM)])
def test_a_stop_reaches_the_command_that_cannot_have_had_it(tmp_path, own_groups, sig):
    # In a group of its own the command gets every stop; in this process's group, SIGTERM
    # (which a terminal never sends to a whole group), to the shell's child too.
    stop = Commands(own_groups=own_groups)
    thread, done = run_in_thread(tmp_path, stop)
    if own_groups:
        assert os.getpgid(next(iter(stop._procs)).pid) != os.getpgrp()
    started = time.monotonic()
    stop.stop(sig)
    thread.join(20)
    assert time.monotonic() - started < 10 and not thread.is_alive()
    (outcome,) = done
    assert outcome.returncode != 0 and not (tmp_path / "after.txt").exists()


def test_ctrl_c_in_the_terminals_group_is_left_to_the_terminal(tmp_path):
    # Ctrl-C on a terminal reached the commands of mlvc's group already: not sent twice
    # (a script cleaning up after its first one would be cut short by a second).
    stop = Commands(own_groups=False)
    thread, done = run_in_thread(tmp_path, stop)
    (proc,) = stop._procs
    kids = descendants(proc.pid)
    assert kids  # (the shell's python)
    stop.stop(signal.SIGINT)
    time.sleep(0.5)
    assert thread.is_alive() and not done
    os.kill(kids[0], signal.SIGINT)  # (what the terminal would have done)
    thread.join(20)
    assert done and not thread.is_alive()
