"""The real `mlvc` executable in subprocesses."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlvc.objects.oid import hash_file

pytestmark = pytest.mark.integration

MLVC = shutil.which("mlvc") or ""


def mlvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, check=check,
                          timeout=120)


def processes_in(folder: Path) -> list[int]:
    """Processes whose working folder is ``folder`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    mlvc(root, "init")
    return root


def test_workflow_through_the_executable(repo):
    data = repo / "data"
    (data / "sub").mkdir(parents=True)
    for i in range(50):
        (data / "sub" / f"{i}.txt").write_text(str(i) * i)
    r = mlvc(repo, "add", "data")
    assert "Added data (50 files" in r.stdout
    assert json.loads(mlvc(repo, "status", "--json").stdout)["clean"] is True
    shutil.rmtree(data)
    assert mlvc(repo, "status", "-q", check=False).returncode == 1
    mlvc(repo, "checkout")
    assert (data / "sub" / "7.txt").read_text() == "7" * 7
    assert mlvc(repo, "status", "-q").returncode == 0
    r = mlvc(repo, "add", "../elsewhere", check=False)
    assert r.returncode == 1 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly(repo):
    (repo / "f.txt").write_text("x")
    mlvc(repo, "add", "f.txt")
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    for args in (["status", "--json"], ["--help"]):
        proc = subprocess.Popen([*cmd, *args], cwd=repo, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdout.close()  # as `| head -0` would: the first write finds no reader
        _, err = proc.communicate(timeout=60)
        assert b"Traceback" not in err and b"Broken pipe" not in err, err
        if args[0] == "status":  # (click prints --help itself, outside the command)
            assert err == b"" and proc.returncode == 141


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys; from mlvc.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('git', 's3fs', 'fsspec', 'sqlite3', 'mlvc.pipeline', 'tqdm')"
            " if m in sys.modules]\nprint('HEAVY:' + ','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_add_in_git_runs_git_without_importing_gitpython(repo):
    """`add` asks git what it tracks and stages with it (core.autostage): through the git
    command, since importing GitPython alone takes longer than those commands."""
    (repo / "model.bin").write_bytes(b"weights")
    (repo / "tracked.txt").write_text("in git")
    git(repo, "add", "tracked.txt")
    mlvc(repo, "config", "core.autostage", "true")
    code = ("import sys; from mlvc.cli.main import main\n"
            "for args in (['add', 'tracked.txt'], ['add', 'model.bin']):\n"
            "    try:\n        main(args)\n        print('EXIT 0')\n"
            "    except SystemExit as e:\n        print('EXIT', e.code)\n"
            "print('GIT:' + str('git' in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                       check=True)
    assert "'tracked.txt' is tracked by git already" in r.stderr
    lines = r.stdout.splitlines()
    assert [line for line in lines if line.startswith("EXIT")] == ["EXIT 1", "EXIT 0"]
    assert lines[-1] == "GIT:False"
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.split()
    assert {"model.bin.mlvc", ".gitignore"} <= set(staged)


def _all_objects_intact(cache: Path) -> int:
    n = 0
    for obj in (cache / "objects").rglob("*"):
        if obj.is_file():
            assert hash_file(obj) == obj.parent.name + obj.name, f"corrupt object {obj}"
            n += 1
    return n


def _fill(data: Path, folders: int, files: int, size: int) -> None:
    """``folders`` folders of ``files`` random files of ``size`` bytes (new bytes each time)."""
    for d in range(folders):
        (data / str(d)).mkdir(parents=True, exist_ok=True)
        for i in range(files):
            (data / str(d) / f"{i}.bin").write_bytes(os.urandom(size))


def _killed(repo: Path, *args: str, after: float) -> None:
    """Run mlvc with ``args`` and SIGKILL it ``after`` seconds."""
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    proc = subprocess.Popen([*cmd, *args], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_add_leaves_no_corrupt_object_and_rerun_finishes(repo):
    data = repo / "data"
    _fill(data, 20, 200, 2048)
    _killed(repo, "add", "data", after=0.6)
    _all_objects_intact(repo / ".mlvc/cache")
    pointer = repo / "data.mlvc"
    if pointer.exists():  # written atomically: whole or absent
        assert "nfiles: 4000" in pointer.read_text()
    mlvc(repo, "add", "data")
    assert _all_objects_intact(repo / ".mlvc/cache") == 4000 + 21
    assert mlvc(repo, "status", "-q").returncode == 0


def test_killed_checkout_reruns_cleanly(repo):
    data = repo / "data"
    data.mkdir()
    for i in range(3000):
        (data / f"{i}.bin").write_bytes(os.urandom(1024))
    mlvc(repo, "add", "data")
    shutil.rmtree(data)
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    proc = subprocess.Popen([*cmd, "checkout"], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while processes_in(repo) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_in(repo) == [], "worker processes outlived the killed mlvc"
    r = mlvc(repo, "checkout", check=False)
    assert r.returncode == 0, r.stderr
    assert mlvc(repo, "status", "-q").returncode == 0
    assert not [p for p in data.iterdir() if ".mlvc-tmp." in p.name]


def test_killed_gc_keeps_what_is_used_and_rerun_finishes(repo):
    data = repo / "data"
    _fill(data, 10, 300, 512)
    mlvc(repo, "add", "data")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    mlvc(repo, "unprotect", "data")
    _fill(data, 10, 300, 512)  # a second version: every file of the first becomes garbage
    mlvc(repo, "commit")
    _killed(repo, "gc", "-w", "-f", after=0.5)
    _all_objects_intact(repo / ".mlvc/cache")
    assert mlvc(repo, "status", "-q").returncode == 0  # what the workspace uses is whole
    mlvc(repo, "gc", "-w", "-f")
    assert _all_objects_intact(repo / ".mlvc/cache") == 3000 + 11
    shutil.rmtree(data)
    mlvc(repo, "checkout")
    assert mlvc(repo, "status", "-q").returncode == 0


def _remote_intact(remote: Path) -> int:
    """The objects a folder remote holds, loose or in packs (those with an index), each
    checked against its oid."""
    from mlvc.objects.oid import hash_bytes
    from mlvc.remote.packs import decode_index

    oids = set()
    for obj in (remote / "objects").rglob("*"):
        if obj.is_file():
            assert hash_file(obj) == obj.parent.name + obj.name, f"corrupt object {obj}"
            oids.add(obj.parent.name + obj.name)
    for idx in (remote / "packs").glob("*.idx") if (remote / "packs").exists() else ():
        entries, size = decode_index(idx.read_bytes(), str(idx))
        data = idx.with_suffix(".pack").read_bytes()
        assert len(data) == size, f"pack {idx.stem} is not whole"
        for oid, (offset, n) in entries.items():
            assert hash_bytes(data[offset:offset + n]) == oid, f"corrupt {oid} in a pack"
            oids.add(oid)
    return len(oids)


def test_killed_push_and_pull_leave_nothing_corrupt_and_rerun_finishes(repo, tmp_path):
    data = repo / "data"
    for d in range(10):
        (data / str(d)).mkdir(parents=True)
        for i in range(200):
            (data / str(d) / f"{i}.bin").write_bytes(os.urandom(4096))
    mlvc(repo, "add", "data")
    remote = tmp_path / "remote"
    mlvc(repo, "remote", "add", "-d", "store", str(remote))
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]

    def kill_midway(*args: str, cwd: Path) -> None:
        proc = subprocess.Popen([*cmd, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(0.7)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    kill_midway("push", "-j", "2", cwd=repo)
    _remote_intact(remote)  # whatever arrived is whole, under its final name
    mlvc(repo, "push")
    assert _remote_intact(remote) == 2000 + 11
    assert json.loads(mlvc(repo, "status", "-c", "--json").stdout)["clean"]

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    kill_midway("pull", "-j", "2", cwd=clone)
    if (clone / ".mlvc/cache").exists():
        _all_objects_intact(clone / ".mlvc/cache")
    r = mlvc(clone, "pull", check=False)
    assert r.returncode == 0, r.stderr
    assert _all_objects_intact(clone / ".mlvc/cache") == 2000 + 11
    assert mlvc(clone, "status", "-q").returncode == 0
    for d in ("0", "9"):
        for i in (0, 199):
            rel = f"data/{d}/{i}.bin"
            assert (clone / rel).read_bytes() == (repo / rel).read_bytes()


def test_killed_repro_keeps_finished_stages_and_rerun_finishes(repo):
    (repo / "in.txt").write_text("x\n")
    (repo / "mlvc.yaml").write_text(
        "stages:\n"
        "  first:\n"
        "    cmd: cat in.txt > a.out && echo first >> runs.log\n"
        "    deps: [in.txt]\n    outs: [a.out]\n"
        "  second:\n"
        "    cmd: sleep 30 && cat a.out > b.out && echo second >> runs.log\n"
        "    deps: [a.out]\n    outs: [b.out]\n"
        "  third:\n"
        "    cmd: cat b.out > c.out && echo third >> runs.log\n"
        "    deps: [b.out]\n    outs: [c.out]\n")
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    proc = subprocess.Popen([*cmd, "repro"], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while "first" not in ((repo / "runs.log").read_text() if (repo / "runs.log").exists()
                          else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the first stage's lock entry is written; the second is sleeping
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job, as a closed terminal would
    proc.wait()
    lock = (repo / "mlvc.lock").read_text()
    assert "first:" in lock and "second:" not in lock
    _all_objects_intact(repo / ".mlvc/cache")
    (repo / "mlvc.yaml").write_text((repo / "mlvc.yaml").read_text().replace("sleep 30 && ", ""))
    r = mlvc(repo, "repro")
    assert r.returncode == 0, r.stderr
    assert (repo / "runs.log").read_text().split() == ["first", "second", "third"]
    assert (repo / "c.out").read_text() == "x\n"
    assert mlvc(repo, "status", "-q").returncode == 0


@pytest.mark.parametrize("size", [(0, 0), (24, 100)])
def test_a_terminal_gets_a_bar_even_when_it_reports_no_size(repo, size):
    """On a terminal, a checkout draws its bar on stderr. A pseudo-terminal nobody sized
    (`script`, some container shells) reports 0x0, where tqdm alone drew nothing."""
    import fcntl
    import pty
    import struct
    import termios

    data = repo / "data"
    data.mkdir()
    for i in range(20):
        (data / f"{i}.txt").write_text(str(i))
    mlvc(repo, "add", "data")
    shutil.rmtree(data)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    try:
        proc = subprocess.run([*cmd, "checkout"], cwd=repo, stderr=slave,
                              stdout=subprocess.PIPE, timeout=120)
        os.set_blocking(master, False)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0 and b"20 added" in proc.stdout
    assert b"Checking out:" in drawn and b"/20 [" in drawn


def test_an_mlvc_command_inside_a_stage_is_refused_at_once_not_left_waiting(repo):
    """A stage's cmd that runs `mlvc add` waited for the lock repro holds, and repro for
    the cmd: forever. A reading command works there."""
    exe = " ".join([MLVC] if MLVC else [sys.executable, "-m", "mlvc"])
    (repo / "f").write_text("1")
    (repo / "mlvc.yaml").write_text(
        "stages:\n"
        f"  reads:\n    cmd: {exe} status --json > st.json\n    outs: [st.json]\n"
        f"  writes:\n    cmd: {exe} add f\n    deps: [st.json]\n")
    started = time.monotonic()
    r = mlvc(repo, "repro", check=False)
    assert time.monotonic() - started < 60
    assert r.returncode == 1
    assert "this command runs inside stage 'writes' of `mlvc repro`" in r.stderr
    assert "error: stage 'writes' failed" in r.stderr
    assert json.loads((repo / "st.json").read_text())["tracked"] == 0
    assert not (repo / "f.mlvc").exists()


@pytest.mark.parametrize(("sig", "code", "said"), [
    (signal.SIGTERM, 143, "error: terminated"), (signal.SIGINT, 130, "error: interrupted")])
def test_a_signal_to_repro_alone_stops_its_running_stage(repo, sig, code, said):
    # `kill`, `docker stop`, an IDE's stop button, a cancelled CI job: the signal reaches mlvc
    # alone (not, as a terminal's Ctrl-C, its whole process group). mlvc passes it on to the
    # stage's command, stops at once, and keeps what finished.
    (repo / "mlvc.yaml").write_text(
        "stages:\n"
        "  first:\n"
        "    cmd: echo one > a.out\n"
        "    outs: [a.out]\n"
        "  second:\n"
        "    cmd: touch started && sleep 60 && cat a.out > b.out\n"
        "    deps: [a.out]\n    outs: [b.out]\n")
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]
    proc = subprocess.Popen([*cmd, "repro"], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (repo / "started").exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(sig)  # (mlvc alone)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code and said in err and "Traceback" not in err, err
    assert took < 10
    assert processes_in(repo) == []  # (the stage's command is gone too)
    lock = (repo / "mlvc.lock").read_text()
    assert "first:" in lock and "second:" not in lock
    assert not (repo / "b.out").exists()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_completes_commands_and_options(repo, shell):
    r = mlvc(repo, "completion", "-s", shell)
    assert "_MLVC_COMPLETE" in r.stdout
    cmd = [MLVC] if MLVC else [sys.executable, "-m", "mlvc"]

    def complete(words: str, cword: int) -> str:
        env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(cword),
                   _MLVC_COMPLETE="bash_complete")
        return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True,
                              timeout=60).stdout

    assert complete("mlvc pl", 1).split() == ["plain,plots"]
    assert "plain,diff" in complete("mlvc plots d", 2).split()
    assert complete("mlvc repro --fo", 2).split() == ["plain,--force", "plain,--force-downstream"]
