"""Running a stage's commands: in order, by the shell, in the stage's folder.

Without an ``output`` callback the commands share this process's terminal. With one, their
output (stdout and stderr together) is read line by line and handed to it, so that stages
running at the same time can be told apart.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlvc.paths import to_fs
from mlvc.pipeline.model import Stage
from mlvc.procs import Commands


@dataclass(frozen=True, slots=True)
class RunOutcome:
    returncode: int
    failed_cmd: str | None = None


INTERRUPTED = 130  # the exit code of a command not started because of Ctrl-C


def run_stage(root: Path, stage: Stage, output: Callable[[str], None] | None = None,
              stop: Commands | None = None) -> RunOutcome:
    """Run the stage's commands, started through ``stop`` (see :class:`mlvc.procs.Commands`):
    once it is stopping (Ctrl-C, seen by the thread that schedules stages) none of them
    starts, and those running hear of it."""
    cwd = to_fs(root, stage.wdir)
    # MLVC_REPRO_PID: an mlvc command in the stage's cmd that needs the repository lock,
    # which this process holds, says so at once (see mlvc.lock) instead of waiting forever.
    env = dict(os.environ, MLVC_ROOT=str(root), MLVC_STAGE=stage.name,
               MLVC_REPRO_PID=str(os.getpid()))
    stop = stop or Commands(own_groups=False)
    for cmd in stage.cmd:
        if output is None:
            proc = stop.popen(cmd, shell=True, cwd=cwd, env=env)
        else:
            proc = stop.popen(cmd, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if proc is None:
            return RunOutcome(INTERRUPTED, cmd)
        try:
            if output is not None:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    output(raw.decode("utf-8", "replace").rstrip("\r\n"))
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            stop.done(proc)
        if code != 0:
            return RunOutcome(code, cmd)
    return RunOutcome(0)
