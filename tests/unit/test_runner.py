"""Running a stage's commands (mlvc.pipeline.runner)."""

from __future__ import annotations

import threading

from mlvc.pipeline.model import Stage
from mlvc.pipeline.runner import INTERRUPTED, RunOutcome, run_stage


def test_commands_run_in_order_and_the_first_failure_ends_the_stage(tmp_path):
    stage = Stage("s", ("echo a > one.txt", "exit 3", "echo b > two.txt"))
    outcome = run_stage(tmp_path, stage)
    assert (outcome.returncode, outcome.failed_cmd) == (3, "exit 3")
    assert (tmp_path / "one.txt").read_text() == "a\n" and not (tmp_path / "two.txt").exists()


def test_once_stopping_no_command_starts(tmp_path):
    # Ctrl-C seen by the scheduling thread: a stage whose thread reaches its command only
    # now must not start it (it would never get the interrupt, and repro would wait for it).
    stop = threading.Event()
    stop.set()
    outcome = run_stage(tmp_path, Stage("s", ("echo x > ran.txt",)), stop=stop)
    assert outcome.returncode == INTERRUPTED and not (tmp_path / "ran.txt").exists()
    # …nor the next command of a stage that was running when it came.
    seen = []

    def output(line: str) -> None:
        seen.append(line)
        stop.set()

    stop.clear()
    stage = Stage("s", ("echo a", "echo b > two.txt"))
    outcome = run_stage(tmp_path, stage, output, stop)
    assert seen == ["a"] and outcome == RunOutcome(INTERRUPTED, "echo b > two.txt")
    assert not (tmp_path / "two.txt").exists()
