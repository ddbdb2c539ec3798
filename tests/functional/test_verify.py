"""``mlvc verify``: the cache re-hashed; corrupt objects set aside, not deleted."""

from __future__ import annotations

import json

import yaml


def test_verify_sets_corrupt_objects_aside_and_commit_mends_them(project):
    project.gen({"d": {"a": "one", "b": "two"}})
    project.run("add", "d")
    r = project.run("verify")
    assert r.stdout.startswith("Verified 3 objects (") and r.stdout.endswith(
        " in the cache: all sound.\n")
    stray = next((project.root / ".mlvc/cache/objects").iterdir()) / ".nfs0001"
    stray.write_text("not an object")  # (a stray file is not an object: left alone)
    assert project.run("verify").stdout.startswith("Verified 3 objects (")
    assert stray.exists()
    oid = yaml.safe_load(project.read("d.mlvc"))["outs"][0]["oid"]
    manifest = json.loads((project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]).read_text())
    a = next(e["oid"] for e in manifest["entries"] if e["name"] == "a")
    obj = project.root / ".mlvc/cache/objects" / a[:2] / a[2:]
    obj.chmod(0o644)
    obj.write_text("rot")  # (another size: status would see it; verify reads every byte)
    r = project.run("verify", "--json", code=1)
    doc = json.loads(r.stdout)
    assert doc["corrupt"] == [a] and doc["checked"] == 3
    assert "`mlvc fetch` gets them again" in r.stderr
    assert not obj.exists()
    aside = project.root / ".mlvc/cache/corrupt" / a
    assert aside.read_text() == "rot"  # kept for a look, out of the way
    status = project.run("status").stdout
    assert "not in cache:     d/a" in status
    project.run("commit")  # the workspace still holds the bytes
    assert obj.read_text() == "one"
    assert project.run("verify").stdout.endswith("all sound.\n")


def test_verify_checks_bytes_that_keep_their_size_and_mtime(project, count_hashes):
    """Status trusts an object whose stat matches its verification record; verify reads
    every byte, and leaves records of the sound ones, so status then reads nothing."""
    import os

    project.gen({"m.bin": "abcd"})
    old = project.root / "m.bin"
    os.utime(old, (old.stat().st_atime - 5, old.stat().st_mtime - 5))  # (out of the racy
    project.run("add", "m.bin")  # window: its state row is trusted at once, as after a while)
    oid = yaml.safe_load(project.read("m.bin.mlvc"))["outs"][0]["oid"]
    obj = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    st = obj.stat()
    obj.chmod(0o644)
    obj.write_text("abce")  # same size
    os.utime(obj, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: status cannot tell
    assert json.loads(project.run("verify", "--json", code=1).stdout)["corrupt"] == [oid]
    project.run("commit")
    project.run("verify")
    count_hashes.clear()
    project.run("status")
    assert count_hashes == []
