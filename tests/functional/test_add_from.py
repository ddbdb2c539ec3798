"""``mlvc add SRC -o OUT``: data outside the project copied into the cache and tracked."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import new_project, snapshot, write_tree


def test_add_from_outside_stores_links_and_tracks_it_leaving_the_source(project, tmp_path):
    ext = tmp_path / "mnt"
    write_tree(ext, {"raw": {"a.csv": "1\n", "sub": {"b.csv": "2\n", "empty": {}}}})
    os.chmod(ext / "raw/a.csv", 0o755)
    before = snapshot(ext)
    project.run("config", "cache.type", "hardlink")
    (project.root / "data").mkdir()
    doc = json.loads(project.run("add", "../../mnt/raw", "-o", "raw", "--json",
                                 cwd=project.root / "data").stdout)
    assert doc["pointer"] == "data/raw.mlvc" and doc["files"] == 2 and doc["stored"] == 5
    assert snapshot(ext) == before  # (the source is left as it is)
    assert snapshot(project.root / "data/raw") == snapshot(ext / "raw")
    assert os.stat(project.root / "data/raw/sub/b.csv").st_nlink == 2  # (linked)
    assert "/raw" in (project.root / "data/.gitignore").read_text()
    assert project.run("status", "-q").exit_code == 0

    # The same bytes added in place are recorded alike.
    shutil.copytree(ext / "raw", project.root / "same")
    same = json.loads(project.run("add", "same", "--json").stdout)["saved"][0]["oid"]
    assert same == doc["oid"]

    # A file, into the current folder by default; refusals write nothing.
    (tmp_path / "model.bin").write_bytes(b"\0" * 10)
    r = project.run("add", "../model.bin", "-o", "models/m.bin")
    assert "as models/m.bin (10 B) -> models/m.bin.mlvc" in r.stdout
    r = project.run("add", "../model.bin", "-o", "models/m.bin", code=1)
    assert "exists already" in r.stderr and "--force" in r.stderr
    project.run("add", "../model.bin", "-o", "models/m.bin", "-f")
    assert "is inside the project" in project.run("add", "same", "-o", "x", code=1).stderr
    assert "does not exist" in project.run("add", "../none", "-o", "x", code=1).stderr
    assert project.run("add", "a", "b", "-o", "x", code=2).exit_code == 2
    (tmp_path / "link").symlink_to(ext / "raw")
    r = project.run("add", "../link", "-o", "viaLink", code=1)
    assert "symbolic link" in r.stderr and not (project.root / "viaLink.mlvc").exists()


_names = st.text(st.characters(whitelist_categories=("Ll", "Nd")), min_size=1, max_size=6)
_trees = st.recursive(
    st.binary(max_size=64),
    lambda inner: st.dictionaries(_names, inner, min_size=0, max_size=4), max_leaves=12)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(_names, _trees, min_size=1, max_size=4))
def test_a_folder_stored_from_outside_is_recorded_as_add_records_it(tmp_path_factory, tree):
    from mlvc.objects.store import ObjectStore
    from mlvc.ops.imports import store_tree

    base = tmp_path_factory.mktemp("t")
    write_tree(base / "src", tree)
    project = new_project(base / "p")
    write_tree(project.root / "d", tree)
    added = json.loads(project.run("add", "d", "--json").stdout)["saved"][0]
    stored = store_tree(ObjectStore(base / "cache"), Path(base / "src"), jobs=2)
    assert (stored.oid, stored.size, stored.nfiles) == (added["oid"], added["size"],
                                                        added["nfiles"])


def test_to_remote_sends_outside_data_straight_to_the_remote(project, tmp_path, monkeypatch):
    from mlvc.objects.store import ObjectStore

    ext = tmp_path / "mnt"
    write_tree(ext, {"raw": {f"s{i:02}.txt": f"small {i}\n" for i in range(20)}})
    (ext / "raw/big.bin").write_bytes(os.urandom((1 << 20) + 5))  # (loose; the rest packed)
    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    doc = json.loads(project.run("add", "../mnt/raw", "-o", "raw", "--to-remote",
                                 "--json").stdout)
    assert doc["remote"] == "store" and doc["sent"] == 22  # (21 files and the manifest)
    assert not (project.root / "raw").exists()  # (no copy in the workspace…)
    cache = ObjectStore(project.root / ".mlvc/cache")
    assert not any(cache.exists(oid) for oid in
                   (json.loads(project.run("ls", "raw", "-R", "--json").stdout)["entries"][i][
                       "oid"] for i in range(21)))  # (…nor in the cache)
    cloud = json.loads(project.run("status", "-c", "--json", code=None).stdout)
    assert cloud["not_on_remote"] == [] and len(cloud["not_in_cache"]) == 21  # (remote only)
    project.run("pull", "raw")
    assert snapshot(project.root / "raw") == snapshot(ext / "raw")

    # A file that changes while it is sent is not kept, and nothing is written.
    write_tree(ext, {"more": {f"m{i}.txt": f"{i}" for i in range(3)}})
    from mlvc.remote.fs import Remote

    real_upload = Remote.upload

    def written_meanwhile(self, items, *args, **kwargs):
        for _, path, _ in items:
            if path.endswith(".txt"):  # (another program rewrites it as it is sent)
                with open(path, "a") as f:
                    f.write("!")
        return real_upload(self, items, *args, **kwargs)

    monkeypatch.setattr(Remote, "upload", written_meanwhile)
    r = project.run("add", "../mnt/more", "-o", "more", "--to-remote", code=1)
    assert "changed while it was sent" in r.stderr and "more.mlvc not written" in r.stderr
    assert not (project.root / "more.mlvc").exists()
    from mlvc.objects.oid import hash_bytes

    sent_back = {hash_bytes(f"{i}".encode()) for i in range(3)}
    assert not sent_back & set(ObjectStore(remote).iter_oids())  # (deleted again)
    monkeypatch.undo()
    # Touched, not changed (same bytes, new mtime): what the remote got is read back, sound.
    write_tree(ext, {"same": {f"t{i}.txt": f"t{i}" for i in range(3)}})

    def touched_meanwhile(self, items, *args, **kwargs):
        for _, path, _ in items:
            if path.endswith(".txt"):
                os.utime(path, ns=(1, 1))
        return real_upload(self, items, *args, **kwargs)

    monkeypatch.setattr(Remote, "upload", touched_meanwhile)
    project.run("add", "../mnt/same", "-o", "same", "--to-remote", "--remote-jobs", "2")
    monkeypatch.undo()
    assert (project.root / "same.mlvc").exists()
    assert project.run("add", "a", "--to-remote", code=2).exit_code == 2  # (with -o only)
    r = project.run("add", "../mnt/same", "-o", "x", "--to-remote", "--remote-jobs", "0",
                    code=2)  # (DVC's name of -j)
    assert "--remote-jobs" in r.stderr and "0 is not in the range" in r.stderr


def test_a_file_written_to_while_it_is_stored_is_refused(project, tmp_path, monkeypatch):
    from mlvc.objects.store import ObjectStore

    ext = tmp_path / "mnt"
    write_tree(ext, {"raw": {"a.txt": "a", "b.txt": "b"}})
    real = ObjectStore.add_file_copy

    def and_then_written(self, src, expected=None):
        oid = real(self, src, expected)
        with open(src, "a") as f:  # (another program appends, after mlvc read it)
            f.write("more")
        return oid

    monkeypatch.setattr(ObjectStore, "add_file_copy", and_then_written)
    r = project.run("add", "../mnt/raw", "-o", "raw", code=1)
    assert "changed while it was read" in r.stderr
    assert not (project.root / "raw.mlvc").exists() and not (project.root / "raw").exists()
