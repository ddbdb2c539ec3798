"""Bad input: one `error:` line (and a hint), exit code 1, no traceback, nothing written."""

import json
import os
import shutil
import subprocess

import pytest

from mlvc.objects.oid import hash_bytes
from tests.conftest import snapshot


def _everything(project):
    return snapshot(project.root, skip=(".git", "tmp"))


def assert_refused(project, *args, match, hint=None, cwd=None):
    before = _everything(project)
    r = project.run(*args, code=1, cwd=cwd)
    assert r.stderr.startswith("error: "), r.stderr
    assert match in r.stderr.splitlines()[0], r.stderr
    if hint:
        assert any(line.startswith("hint: ") and hint in line for line in r.stderr.splitlines())
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert _everything(project) == before
    return r


def test_target_outside_project(project, tmp_path):
    (tmp_path / "x").write_text("outside")
    assert_refused(project, "add", "../x", match="outside the project")
    assert_refused(project, "add", str(tmp_path / "x"), match="outside the project")


def test_symlink_pointing_out(project, tmp_path):
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path / "secret", project.root / "link")
    assert_refused(project, "add", "link", match="leads outside the project")
    project.gen({"data": {"ok.csv": "1"}})
    os.symlink(tmp_path / "secret", project.root / "data" / "escape")
    assert_refused(project, "add", "data", match="leads outside the project")


def test_missing_target(project):
    assert_refused(project, "add", "nope.csv", match="'nope.csv' does not exist")


def test_git_tracked_target(project):
    project.gen({"src": {"train.py": "print(1)"}}, commit="code")
    assert_refused(project, "add", "src", match="tracked by git", hint="git rm -r --cached")


def test_a_pointer_file_that_git_would_ignore_is_refused(project):
    """As DVC does: a pointer git ignores is never committed, and the team never sees the
    data (`git add` refuses it, and the hint to run it was all mlvc said)."""
    project.gen({".gitignore": "data*\n"}, commit="rules")
    project.gen({"data": {"a": "1"}, "keep": {"b": "2"}})
    assert_refused(project, "add", "data", match="'data.mlvc' would be ignored by git "
                   "(.gitignore:1: data*): the pointer file could not be committed",
                   hint="add `!/data.mlvc` below it")
    project.run("add", "keep")
    assert_refused(project, "move", "keep", "data2", match="'data2.mlvc' would be ignored")
    # Un-ignored by a negation below the rule: fine.
    project.gen({".gitignore": "data*\n!/data.mlvc\n"})
    project.run("add", "data")
    project.commit_all("tracked")
    # A pointer git tracks already is not ignored by any rule added later.
    project.gen({".gitignore": "data*\n", "data": {"a": "changed"}})
    project.run("add", "data")


def test_a_pipe_in_the_data_is_refused_with_the_way_around_it(project):
    project.gen({"data": {"a": "1"}})
    os.mkfifo(project.root / "data/pipe")
    os.mkfifo(project.root / "lone")
    for target, shown in (("data", "data/pipe"), ("lone", "lone")):
        # (Not assert_refused: its snapshot would open the pipe and wait for a writer.)
        r = project.run("add", target, code=1)
        assert r.stderr.startswith(f"error: '{shown}' is not a regular file or directory\n")
        assert "hint: leave it out with a line in .mlvcignore" in r.stderr
        assert not (project.root / f"{target}.mlvc").exists()
    project.gen({"data": {".mlvcignore": "pipe\n"}})
    project.run("add", "data")
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_target_inside_dot_mlvc(project):
    assert_refused(project, "add", ".mlvc/config.yaml", match="inside .mlvc/")


def test_path_inside_tracked_folder(project):
    project.gen({"data": {"sub": {"a": "1"}}})
    project.run("add", "data")
    assert_refused(project, "add", "data/sub", match="inside 'data'", hint="mlvc add data")
    assert_refused(project, "add", "data/sub/a", match="inside 'data'")


def test_a_path_through_a_symlinked_folder_is_refused(project):
    # A link to a tracked folder would let a file inside it be tracked on its own, its
    # pointer file written inside the tracked folder; git refuses such paths too.
    project.gen({"data": {"sub": {"a": "1"}}, "other": {"b": "2"}})
    project.run("add", "data")
    os.symlink("data", project.root / "alias")
    os.symlink("other", project.root / "other-link")
    for cmd in (("add",), ("status",), ("commit",), ("checkout",), ("unprotect",),
                ("remove",)):
        assert_refused(project, *cmd, "alias/sub/a", match="beyond a symbolic link ('alias')",
                       hint="name it by its real path: data/sub/a")
    assert_refused(project, "add", "other-link/b", match="beyond a symbolic link",
                   hint="other/b")
    assert_refused(project, "move", "data", "other-link/data", match="beyond a symbolic link")
    # Named from a sub-folder, the link and the real path are as seen from there.
    assert_refused(project, "add", "../other-link/b", cwd=project.root / "data",
                   match="beyond a symbolic link ('../other-link')", hint="../other/b")
    project.run("add", "other/b")  # by its real path


def test_folder_containing_tracked_output(project):
    project.gen({"data": {"sub": {"a": "1"}}})
    project.run("add", "data/sub")
    assert_refused(project, "add", "data", match="contains 'data/sub'")


def test_targets_that_overlap_each_other(project):
    project.gen({"data": {"sub": {"a": "1"}}, "data-b": {"x": "2"}, "data.c": "3"})
    for args in (("data", "data/sub/a"), ("data/sub/a", "data-b", "data")):
        assert_refused(project, "add", *args, match="'data/sub/a' and 'data' overlap")
    project.run("add", "data-b", "data", "data.c")  # neighbours that sort between them
    assert sorted(p.name for p in project.root.glob("?*.mlvc")) == [
        "data-b.mlvc", "data.c.mlvc", "data.mlvc"]


@pytest.mark.parametrize("text,line", [
    ("schema: 1\nouts:\n- path: data\n  hash: [xxh128\n", ":5: invalid YAML"),
    ("schema: 1\nouts:\n- path: data\n  hash: xxh128\n  oi", ":6: invalid YAML"),
    ("schema: 1\nouts:\n- path: data\n  hash: xxh128\n", "outs[0].oid"),
    ("\x00\x01garbage", "data.mlvc"),
])
def test_malformed_or_truncated_pointer(project, text, line):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    (project.root / "data.mlvc").write_text(text)
    for cmd in (["status"], ["checkout"], ["add", "data"], ["commit"]):
        r = assert_refused(project, *cmd, match="data.mlvc")
        assert line in r.stderr.splitlines()[0]


def test_pointer_escaping_the_project(project):
    project.gen({"data.mlvc": "schema: 1\nouts:\n- path: ../../etc\n  hash: xxh128\n"
                              f"  oid: {'a' * 32}\n  type: dir\n  size: 1\n  nfiles: 1\n"})
    assert_refused(project, "checkout", match="points outside the project")


def test_a_pointer_through_a_symlinked_folder_is_refused(project, tmp_path):
    """A symlink and a pointer file that git brings in must not make checkout write outside
    the project, nor into a folder that another output tracks."""
    outside = tmp_path / "outside"
    outside.mkdir()
    project.gen({"real": {"x": "secret"}, "data": {"a": "1"}})
    project.run("add", "real/x", "data")
    pointer = (project.root / "real/x.mlvc").read_text()
    (project.root / "real/x.mlvc").unlink()
    (project.root / "x.mlvc").write_text(pointer.replace("path: x", "path: out/x"))
    (project.root / "real/x").unlink()
    os.symlink(outside, project.root / "out")
    for cmd in (("status",), ("checkout",), ("checkout", "--force"), ("commit",),
                ("remove", "--outs", "x.mlvc")):
        assert_refused(project, *cmd, match="x.mlvc: 'out/x' leads outside the project "
                       f"through 'out' (a link to {outside})", hint="delete x.mlvc")
    assert list(outside.iterdir()) == []
    # A link inside the project, to a tracked folder: the same, as seen from a sub-folder.
    (project.root / "out").unlink()
    os.symlink("data", project.root / "out")
    assert_refused(project, "checkout", cwd=project.root / "data",
                   match="../x.mlvc: '../out/x' is beyond a symbolic link ('../out')",
                   hint="make '../out' a real folder")
    assert sorted(p.name for p in (project.root / "data").iterdir()) == ["a"]
    (project.root / "out").unlink()  # a real folder again: the checkout makes it
    project.run("checkout")
    assert project.read("out/x") == "secret"


def test_a_pointer_file_that_is_a_symlink_leading_out_is_refused(project, tmp_path):
    """git stores symlinks: a clone's ``data.mlvc -> ~/other/data.mlvc`` would have mlvc
    read, and check out here, what a pointer file elsewhere on the machine records."""
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    elsewhere = tmp_path / "elsewhere.mlvc"
    elsewhere.write_text((project.root / "data.mlvc").read_text())
    (project.root / "data.mlvc").unlink()
    os.symlink(elsewhere, project.root / "data.mlvc")
    shutil.rmtree(project.root / "data")
    for cmd in (("status",), ("checkout",), ("commit",)):
        assert_refused(project, *cmd, match=f"data.mlvc is a symlink that leads outside the "
                       f"project ({elsewhere})", hint="replace the link with the pointer file")
    assert_refused(project, "checkout", "data.mlvc", match="'data.mlvc' leads outside the "
                   f"project (it resolves to {elsewhere})")  # (a typed path: checked first)
    assert not (project.root / "data").exists()
    # A link to a pointer file inside the project is read as that file.
    (project.root / "data.mlvc").unlink()
    os.rename(elsewhere, project.root / "real.mlvc")
    os.symlink("real.mlvc", project.root / "data.mlvc")
    r = project.run("status", code=1)
    assert "is tracked by both data.mlvc and real.mlvc" in r.stderr


def test_a_gitignore_that_is_a_symlink_is_never_read_or_written_through(project, tmp_path):
    """A clone may hold `.gitignore -> ~/.ssh/id_rsa`: read through, its target's bytes
    would land in a .gitignore that the user commits. Git does not read such a file."""
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY\n")
    project.gen({"data": {"a": "1"}, "sub": {"b": "2"}, "model.pt": "m"})
    project.run("add", "data", "model.pt")  # the .gitignore at the root is a regular file
    os.symlink(secret, project.root / "sub" / ".gitignore")
    for cmd in (("add", "sub/b"), ("move", "model.pt", "sub/model.pt")):
        assert_refused(project, *cmd, match="'sub/.gitignore' is a symlink",
                       hint="make it a regular file")
    (project.root / ".gitignore").rename(project.root / "kept")
    os.symlink(secret, project.root / ".gitignore")
    assert_refused(project, "remove", "data.mlvc", match="'.gitignore' is a symlink")
    assert secret.read_text() == "PRIVATE KEY\n"
    assert (project.root / ".gitignore").is_symlink()


def test_a_mlvcignore_that_leads_outside_is_refused_and_one_that_cannot_be_read_named(
        project, tmp_path):
    """Rules read through a link that leads out would come from outside the project."""
    (tmp_path / "rules").write_text("*.csv\n")
    project.gen({"data": {"a.csv": "1", "b.txt": "2"}})
    (project.root / ".mlvcignore").unlink()
    os.symlink(tmp_path / "rules", project.root / ".mlvcignore")
    for cmd in (("add", "data"), ("status",)):
        assert_refused(project, *cmd, match="'.mlvcignore' is a symlink that leads outside",
                       hint="replace the link with the file itself")
    (project.root / ".mlvcignore").unlink()
    (project.root / "data" / ".mlvcignore").mkdir()
    assert_refused(project, "add", "data",
                   match="cannot read the rule file 'data/.mlvcignore': Is a directory",
                   hint="make it a readable text file")


def test_a_gitignore_cannot_be_tracked_as_data(project):
    """Its own ignore line would be written into it: changed as soon as it is recorded."""
    project.gen({".gitignore": "*.tmp\n", "sub": {".gitignore": "x\n"}, "model.pt": "m"})
    assert_refused(project, "add", ".gitignore", match="'.gitignore' is a git ignore file",
                   hint="`git add .gitignore`")
    assert_refused(project, "add", ".gitignore", cwd=project.root / "sub",
                   match="'.gitignore' is a git ignore file", hint="`git add .gitignore`")
    project.run("add", "model.pt")
    (project.root / "other").mkdir()
    assert_refused(project, "move", "model.pt", "other/.gitignore",
                   match="'other/.gitignore' is a git ignore file")


def test_malformed_config(project):
    (project.root / ".mlvc/config.yaml").write_text("core:\n  jobs: [4\n")
    r = assert_refused(project, "status", match=".mlvc/config.yaml:")
    assert "invalid YAML" in r.stderr
    (project.root / ".mlvc/config.yaml").write_text("core:\n  jobs: lots\n")
    assert_refused(project, "status", match="core.jobs")
    (project.root / ".mlvc/config.yaml").write_text("cache:\n  type: [teleport]\n")
    assert_refused(project, "add", "x", match="unknown link type")


def test_config_mends_a_value_other_commands_refuse(project):
    """As `dvc config` does: a hand-written bad value or unknown key stops every command but
    `mlvc config`, which lists it with a warning and sets or unsets it."""
    conf = project.root / ".mlvc/config.yaml"
    conf.write_text("core:\n  jobs: 100000\n  remote: store\n  colour: blue\n")
    assert_refused(project, "status", match="core.jobs: expected a number from 1 to 256",
                   hint="`mlvc config core.jobs VALUE` sets a valid one")
    r = project.run("config", "--list")
    assert "core.jobs=100000" in r.stdout and "core.remote=store" in r.stdout
    assert "warning: .mlvc/config.yaml: core.jobs: expected a number" in r.stderr
    assert "warning: .mlvc/config.yaml: core.colour: unknown config key" in r.stderr
    assert project.run("config", "core.jobs").stdout == "100000\n"
    project.run("config", "core.jobs", "4")
    r = assert_refused(project, "status", match="core.colour: unknown config key")
    assert "`mlvc config --unset core.colour` removes it" in r.stderr
    project.run("config", "--unset", "core.colour")
    assert "remote: store" in conf.read_text()  # the rest as it was
    project.run("status")
    assert project.run("config", "core.jobs").stdout == "4\n"
    conf.write_text("core:\n  jobs: 0\nremotes:\n  old:\n    url: [1]\n")
    assert_refused(project, "status", match="core.jobs")
    project.run("remote", "remove", "old")  # `remote remove` mends its part too
    assert conf.read_text() == "core:\n  jobs: 0\n"


def _plant_tree(project, entries: bytes) -> str:
    data = b'{"entries":[' + entries + b"]}"
    oid = hash_bytes(data)
    path = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    project.gen({"data.mlvc": f"schema: 1\nouts:\n- path: data\n  hash: xxh128\n  oid: {oid}\n"
                              "  type: dir\n  size: 1\n  nfiles: 1\n"})
    return oid


@pytest.mark.parametrize("name", ["..", "a/b", "", "/abs"])
def test_manifest_with_unsafe_name(project, name):
    blob = hash_bytes(b"x")
    _plant_tree(project, json.dumps({"exec": False, "name": name, "oid": blob, "size": 1,
                                     "type": "file"}).encode())
    r = assert_refused(project, "checkout", match="corrupt")
    assert "not a single safe path component" in r.stderr
    assert not (project.root.parent / "x").exists()
    doc = json.loads(project.run("status", "--json", code=None).stdout)
    assert "corrupt" in doc["changed"][0]["problem"]


@pytest.mark.parametrize("name", [".git", ".GIT", ".mlvc", ".Mlvc"])
def test_a_manifest_naming_git_or_mlvc_is_corrupt(project, name):
    """mlvc never records these names (the scan skips them): a manifest that holds one was
    made to write into a repository's own folder, as git refuses `.git` paths."""
    hooks = _plant_tree(project, json.dumps({"name": "hooks", "nfiles": 1, "size": 1, "oid":
                                             _plant_tree(project, json.dumps({
                                                 "exec": True, "name": "pre-commit",
                                                 "oid": hash_bytes(b"x"), "size": 1,
                                                 "type": "file"}).encode()),
                                             "type": "dir"}).encode())
    _plant_tree(project, json.dumps({"name": name, "nfiles": 1, "oid": hooks, "size": 1,
                                     "type": "dir"}).encode())
    r = assert_refused(project, "checkout", match="corrupt")
    assert f"entry name '{name}' is reserved" in r.stderr
    assert not (project.root / "data").exists()


@pytest.mark.parametrize("path", [".git/hooks/pre-commit", ".GIT/hooks/pre-commit",
                                  ".mlvc/config.yaml", "sub/.git/hooks/post-checkout"])
def test_a_pointer_into_git_or_mlvc_is_refused(project, path):
    """A pointer file that git brings in must not make checkout write a git hook."""
    hook = b"#!/bin/sh\necho pwned\n"
    project.gen({"hook": hook.decode()})
    project.run("add", "hook")
    pointer = (project.root / "hook.mlvc").read_text()
    (project.root / "hook.mlvc").unlink()
    (project.root / "hook").unlink()
    (project.root / "evil.mlvc").write_text(pointer.replace("path: hook", f"path: {path}"))
    hooks = project.root / ".git" / "hooks"
    before = sorted(p.name for p in hooks.iterdir())
    for cmd in (("checkout",), ("checkout", "--force"), ("status",), ("commit",)):
        r = assert_refused(project, *cmd, match=f"evil.mlvc: outs[0].path '{path}' is inside a "
                                               ".git or .mlvc folder")
    assert sorted(p.name for p in hooks.iterdir()) == before
    assert not (project.root / "sub").exists()
    assert "Traceback" not in r.stderr


def test_the_scan_skips_git_and_mlvc_in_any_case_at_any_depth(project):
    project.gen({"data": {"a": "1", ".GIT": {"HEAD": "x"}, "sub": {".git": {"HEAD": "y"},
                                                                   ".Mlvc": {"c": "z"}}}})
    doc = json.loads(project.run("add", "data", "--json").stdout)
    assert doc["saved"][0]["nfiles"] == 1


def test_corrupt_cache_object_is_reported_and_never_placed(project):
    project.gen({"data": {"a": "good bytes", "b": "other"}})
    project.run("add", "data")
    oid = hash_bytes(b"good bytes")
    obj = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"rotten bytes")
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["changed"][0]["corrupt_in_cache"] == ["data/a"]
    repair = "`mlvc commit` stores them in the cache from the workspace files that hold"
    assert repair in project.run("status").stdout  # data/a still holds the good bytes
    (project.root / "data/a").unlink()
    assert repair not in project.run("status").stdout  # nothing holds them now
    r = project.run("checkout", code=1)
    assert "error: data/a: object" in r.stderr and "corrupt" in r.stderr
    assert not (project.root / "data/a").exists()


def test_corruption_is_found_with_hardlinks_too(project):
    """With hardlinks the workspace file is the object; status reuses its stat, safely."""
    project.run("config", "cache.type", "hardlink")
    project.gen({"data": {"a": "good bytes", "b": "other"}})
    project.run("add", "data")
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    a = project.root / "data/a"
    os.chmod(a, 0o644)
    with open(a, "r+b") as f:  # an in-place edit: the same inode, so the object changes too
        f.write(b"BAD")
    (out,) = json.loads(project.run("status", "--json").stdout)["changed"]
    assert out["modified"] == ["data/a"]
    assert out["corrupt_in_cache"] == ["data/a"]


def test_a_damaged_state_database_is_named_with_a_safe_way_out(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    tmp = project.root / ".mlvc" / "tmp"
    for leftover in tmp.glob("state.db-*"):
        leftover.unlink()
    (tmp / "state.db").write_bytes(b"not a database at all" * 100)
    assert_refused(project, "status", match="mlvc's database in .mlvc/tmp failed: file is not "
                   "a database", hint="deleting .mlvc/tmp/state.db")
    (tmp / "state.db").unlink()  # as the hint says: it only remembered hashes
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_a_full_disk_under_the_state_database_gets_the_disk_hint(project, monkeypatch):
    import sqlite3

    from mlvc.workspace.state import StateDB

    project.gen({"data": {"a": "1"}})

    def full(self, rows):
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorname = "SQLITE_FULL"
        raise exc

    monkeypatch.setattr(StateDB, "put_files", full)
    r = project.run("add", "data", code=1)
    assert r.stderr.startswith("error: mlvc's database in .mlvc/tmp failed: database or disk "
                               "is full")
    assert "hint: free some disk space" in r.stderr and "Traceback" not in r.stderr
    assert not (project.root / "data.mlvc").exists()


def test_other_unexpected_errors_still_ask_for_a_bug_report(project, monkeypatch):
    from mlvc.workspace.state import StateDB

    project.gen({"data": {"a": "1"}})

    def broken(self, rows):
        raise ValueError("boom")

    monkeypatch.setattr(StateDB, "put_files", broken)
    r = project.run("add", "data", code=1)
    assert "error: unexpected ValueError: boom" in r.stderr
    assert "hint: this is a bug in mlvc" in r.stderr


@pytest.mark.parametrize("bad", [b"back\\slash", b"caf\xe9"])
def test_names_a_manifest_cannot_hold(project, bad):
    # Linux allows these; a manifest recording them would be refused on every pull.
    name = os.fsdecode(bad)
    project.gen({"data": {"ok.csv": "1", "sub": {}}})
    (project.root / "data" / "sub" / name).write_bytes(b"x")
    r = assert_refused(project, "add", "data", match="has a name that mlvc cannot record",
                       hint=".mlvcignore")
    assert "data/sub/" in r.stderr and "\udce9" not in r.stderr
    (project.root / "data" / "sub" / name).rename(project.root / name)
    assert_refused(project, "add", name, match="cannot record", hint="rename it")
    (project.root / name).rename(project.root / "data" / "sub" / name)
    (project.root / ".mlvcignore").write_bytes(b"/data/sub/" + bad.replace(b"\\", b"\\\\") + b"\n")
    project.run("add", "data")
    assert "1 file" in project.run("add", "data").stdout


def test_a_git_merge_conflict_in_a_pointer_is_named_with_the_way_out(project):
    project.gen({"f": "1"})
    project.run("add", "f")
    project.commit_all("v1")
    project.git("checkout", "-q", "-b", "other")
    project.gen({"f": "2"})
    project.run("add", "f")
    project.commit_all("v2")
    project.git("checkout", "-q", "main")
    project.run("checkout")
    project.gen({"f": "3"})
    project.run("add", "f")
    project.commit_all("v3")
    merge = subprocess.run(["git", "merge", "-q", "other"], cwd=project.root,
                           capture_output=True, text=True)
    assert merge.returncode != 0 and "<<<<<<< HEAD" in project.read("f.mlvc")
    for command in (["status"], ["checkout"], ["add", "f"]):
        assert_refused(project, *command, match="f.mlvc:5: unresolved git merge conflict",
                       hint="git checkout --ours f.mlvc")
    project.git("checkout", "--theirs", "f.mlvc")
    project.run("checkout", "--force")
    assert project.read("f") == "2"


def test_conflict_markers_are_found_in_every_yaml_file():
    from mlvc.errors import FormatError
    from mlvc.yamlio import parse_yaml

    text = "stages:\n<<<<<<< HEAD\n  a: 1\n=======\n  a: 2\n>>>>>>> branch\n"
    with pytest.raises(FormatError, match=r"mlvc.yaml:2: unresolved git merge conflict"):
        parse_yaml(text, "mlvc.yaml")
    assert parse_yaml("note: '<<<<<<< not a marker'\n", "x.yaml") == {
        "note": "<<<<<<< not a marker"}


def test_files_with_names_as_long_as_a_file_name_can_be(project):
    """250 bytes (é is two): the temporary names that checkout writes them under are cut
    to fit, and an output whose pointer file's name would be too long is refused."""
    long_name = "é" * 124 + "ab"
    project.gen({"data": {long_name: "long", "b": "b"}})
    project.run("add", "data")
    (project.root / "data" / long_name).unlink()
    project.run("checkout")
    assert project.read(f"data/{long_name}") == "long"
    assert project.run("status").stdout.startswith("Data and pipelines are up to date")

    too_long = "y" * 251  # its pointer would be 256 bytes
    project.gen({too_long: "y"})
    for args in (("add", too_long), ("move", "data", too_long)):
        assert_refused(project, *args, match="too long a name for a pointer file",
                       hint="rename it to at most 250 bytes")


def test_an_output_with_a_line_break_in_its_name_is_refused(project):
    """A .gitignore line cannot hold it: '/top' and 'x' would be written, and 'x' would
    ignore every file named x in the project. Inside a tracked folder such a name is fine."""
    project.gen({"top\nx": "t", "data": {"in\nside": "fine"}})
    assert_refused(project, "add", "top\nx", match="has a line break in its name",
                   hint="rename it, or track the folder it is in")
    project.run("add", "data")
    assert_refused(project, "move", "data", "da\nta", match="has a line break in its name")
    assert project.read(".gitignore").splitlines() == ["/data"]


@pytest.mark.parametrize("content", [b"just text\n", b"a: 1\n", b"\xff\xfe binary"])
def test_data_named_like_a_pointer_file_gets_a_hint_to_leave_it_out(project, content):
    """A data file whose name ends in .mlvc is read as a pointer file: the error says how
    to keep it as data; .mlvcignore then leaves it out."""
    project.gen({"d": {"y": "y"}})
    (project.root / "d/x.mlvc").write_bytes(content)
    r = assert_refused(project, "add", "d", match="d/x.mlvc: not")
    assert "if it is data, rename it or leave it out with a line in .mlvcignore" in r.stderr
    with open(project.root / ".mlvcignore", "a") as f:
        f.write("x.mlvc\n")
    project.run("add", "d")
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_a_conflicted_lock_points_to_repro_to_make_it_true_again():
    from mlvc.errors import FormatError
    from mlvc.yamlio import parse_yaml

    text = "schema: 1\nstages:\n<<<<<<< HEAD\n  a: {}\n=======\n  a: {}\n>>>>>>> other\n"
    with pytest.raises(FormatError) as caught:
        parse_yaml(text, "mlvc.lock")
    assert "git checkout --ours mlvc.lock" in caught.value.hint
    assert "then `mlvc repro`, which runs again" in caught.value.hint
