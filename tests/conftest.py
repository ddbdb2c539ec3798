"""Shared fixtures: a temporary git + mlvc project built from a dict in one line."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from mlvc.cli.main import cli

# No per-example deadline: these machines are shared and stall now and then (an example of
# 3 ms once took 650 ms and failed the suite). The tests check answers, not speed; speed is
# measured by benchmarks/.
settings.register_profile("mlvc", deadline=None)
settings.load_profile("mlvc")

# A shell without job control starts a background job (`./scripts/test.sh &` in a script)
# with SIGINT ignored, and every process it starts inherits that: the Ctrl-C tests, and the
# mlvc processes they interrupt, need the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No user git or mlvc config leaks into a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(home / "etc-xdg"))  # (the --system config)
    for key, value in {
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)


def write_tree(base: Path, spec: dict) -> None:
    """``{"a.txt": "text", "d": {"b.bin": b"bytes", "empty": {}}}`` → files and folders."""
    for name, content in spec.items():
        path = base / name
        if isinstance(content, dict):
            path.mkdir(parents=True, exist_ok=True)
            write_tree(path, content)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not os.access(path, os.W_OK):
                path.unlink()
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")


def snapshot(base: Path, skip=(".git",)) -> dict[str, object]:
    """Every file (content, exec bit) and folder below ``base``."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in skip]
        rel = Path(dirpath).relative_to(base).as_posix()
        out[rel + "/"] = "dir"
        for f in filenames:
            p = Path(dirpath) / f
            key = (Path(rel) / f).as_posix() if rel != "." else f
            out[key] = (p.read_bytes(), os.access(p, os.X_OK)) if not p.is_symlink() or \
                p.exists() else ("broken-link",)
    return out


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.runner = CliRunner()

    def gen(self, spec: dict, commit: str | None = None) -> None:
        write_tree(self.root, spec)
        if commit:
            self.git("add", "-A")
            self.git("commit", "-q", "-m", commit)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, text=True,
                              capture_output=True).stdout

    def run(self, *args: str, code: int | None = 0, cwd: Path | None = None):
        result = self.runner.invoke(cli, ["-C", str(cwd or self.root), *args],
                                    catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (
                f"mlvc {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def commit_all(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def snapshot(self) -> dict[str, object]:
        return snapshot(self.root)


def new_project(root: Path) -> Project:
    """A git repository at ``root`` (made here) with ``mlvc init`` committed."""
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    p = Project(root)
    p.run("init")
    p.commit_all("init mlvc")
    return p


@pytest.fixture
def project(tmp_path) -> Project:
    return new_project(tmp_path / "proj")


@pytest.fixture
def count_hashes(monkeypatch) -> list[str]:
    """The files mlvc reads to hash them (workspace and cache alike), in order."""
    from mlvc.workspace import importer

    calls: list[str] = []
    original = importer.read_small  # (every read to hash a file begins with it)

    def counting(fs):
        calls.append(str(fs))
        return original(fs)

    monkeypatch.setattr(importer, "read_small", counting)
    return calls
