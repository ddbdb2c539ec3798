"""SPEC 4.6: a writer waits for the repository lock, with a message; readers never block."""

import subprocess
import sys
import time

import pytest

from mlvc.lock import repo_lock

pytestmark = pytest.mark.integration


def test_writer_waits_for_the_lock_and_reader_does_not(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    run = [sys.executable, "-m", "mlvc"]
    subprocess.run([*run, "init"], cwd=root, check=True, capture_output=True)
    (root / "data").mkdir()
    (root / "data" / "a").write_text("1")
    with repo_lock(root / ".mlvc" / "tmp" / "lock"):
        writer = subprocess.Popen([*run, "add", "data"], cwd=root, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert writer.poll() is None, "the writer did not wait for the lock"
        reader = subprocess.run([*run, "status"], cwd=root, capture_output=True, text=True,
                                timeout=30)
        assert reader.returncode == 0
        assert not (root / "data.mlvc").exists()
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert "Waiting for another mlvc process" in err
    assert (root / "data.mlvc").exists()
