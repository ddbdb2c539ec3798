"""init, remove, move, config, doctor, and the global options."""

import json
import os
import shutil
import subprocess

import click
import pytest

from mlvc import MAX_JOBS, __version__
from mlvc.cli.main import COMMANDS, cli


def _all_commands():
    """(argv, command) for every command and every subcommand of a group."""
    ctx = click.Context(cli)
    todo = [([name], cli.get_command(ctx, name)) for name in COMMANDS]
    while todo:
        argv, command = todo.pop()
        yield argv, command
        if isinstance(command, click.Group):
            sub_ctx = click.Context(command)
            todo += [([*argv, s], command.get_command(sub_ctx, s))
                     for s in command.list_commands(sub_ctx)]


def test_every_command_has_help(project):
    seen = []
    for argv, command in _all_commands():
        seen.append(" ".join(argv))
        r = project.run(*argv, "--help")
        assert "Usage:" in r.stdout
        assert command.help and len(command.help) > 20, argv
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{argv} {param.opts} has no help"
    assert "remote modify" in seen and "push" in seen
    assert __version__ in project.run("--version").stdout


def test_init_needs_git_or_no_scm(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    r = runner.invoke(cli, ["-C", str(tmp_path), "init"])
    assert r.exit_code == 1 and "not inside a git repository" in r.stderr
    assert "--no-scm" in r.stderr
    r = runner.invoke(cli, ["-C", str(tmp_path), "init", "--no-scm"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / ".mlvc/config.yaml").read_text() == "core:\n  no_scm: true\n"
    (tmp_path / "d").write_text("x")
    assert runner.invoke(cli, ["-C", str(tmp_path), "add", "d"]).exit_code == 0
    r = runner.invoke(cli, ["-C", str(tmp_path), "init"])
    assert r.exit_code == 1 and "already" in r.stderr
    r = runner.invoke(cli, ["-C", str(tmp_path), "init", "--no-scm", "--force", "--json"])
    assert json.loads(r.stdout) == {"root": str(tmp_path.resolve()), "staged": [],
                                    "created": [".mlvc/.gitignore", ".mlvc/config.yaml"],
                                    "not_staged": []}


def test_init_stages_its_files(project):
    r = project.run("init", "--force")
    assert "Staged in git: .mlvc/.gitignore .mlvc/config.yaml .mlvcignore" in r.stdout
    tracked = project.git("ls-files").split()
    assert {".mlvc/.gitignore", ".mlvc/config.yaml", ".mlvcignore"} <= set(tracked)
    ignored = (project.root / ".mlvc/.gitignore").read_text()
    assert "/cache/" in ignored and "/tmp/" in ignored and "/config.local.yaml" in ignored


def test_init_inside_a_project_needs_force_and_then_is_a_project_of_its_own(project):
    (project.root / "sub").mkdir()
    r = project.run("init", code=1, cwd=project.root / "sub")
    assert f"is inside the mlvc project at {project.root}" in r.stderr
    assert "`mlvc init --force`" in r.stderr and not (project.root / "sub/.mlvc").exists()
    project.run("init", "--force", cwd=project.root / "sub")
    project.gen({"sub": {"inner.txt": "x"}, "outer.txt": "y"})
    project.run("add", "inner.txt", cwd=project.root / "sub")
    project.run("add", "outer.txt")
    # The outer project's commands leave the inner one's pointer files alone.
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["clean"] and doc["tracked"] == 1
    inner = json.loads(project.run("status", "--json", cwd=project.root / "sub").stdout)
    assert inner["clean"] and inner["tracked"] == 1


def test_the_outer_project_leaves_another_projects_folder_alone(project):
    project.gen({"data": {"a.txt": "a", "inner": {"b.txt": "b", "deeper": {"c.txt": "c"}}}})
    project.run("init", "--force", cwd=project.root / "data/inner")
    # Adding the folder that holds it tracks the rest, not the other project's files.
    saved = json.loads(project.run("add", "data", "--json").stdout)["saved"]
    assert [(s["path"], s["nfiles"]) for s in saved] == [("data", 1)]
    assert project.run("status", "--json").stdout and \
        json.loads(project.run("status", "--json").stdout)["clean"]
    # A path in it, or the folder itself, is refused: that project tracks them.
    r = project.run("add", "data/inner/deeper/c.txt", code=1)
    assert "error: 'data/inner/deeper/c.txt' is inside another mlvc project ('data/inner')" \
        in r.stderr and "hint: run mlvc in that project: cd data/inner" in r.stderr
    r = project.run("status", "inner", code=1, cwd=project.root / "data")
    assert "error: 'inner' is another mlvc project" in r.stderr
    assert "hint: run mlvc in that project: cd inner" in r.stderr
    assert not (project.root / "data/inner/deeper/c.txt.mlvc").exists()
    # A checkout restores the outer project's files and leaves the other project's be.
    (project.root / "data/a.txt").unlink()
    project.run("checkout")
    assert (project.root / "data/a.txt").read_text() == "a"
    assert (project.root / "data/inner/b.txt").read_text() == "b"
    assert (project.root / "data/inner/.mlvc").is_dir()


def test_a_project_made_in_a_tracked_folder_is_left_alone_by_the_outer_one(project):
    """``init --force`` in a folder the outer project tracks (git ignores it): the project
    is made, its files not staged; the outer status names the folder; the outer checkout
    writes nothing there (a user's change in it stays, even with --force) but restores the
    rest; a commit records the output without it."""
    project.gen({"data": {"a.txt": "a", "inner": {"b.txt": "b", "c.txt": "c"}}})
    project.run("add", "data")
    project.commit_all("data")
    inner = project.root / "data/inner"
    doc = json.loads(project.run("init", "--force", "--json", cwd=inner).stdout)
    assert doc["staged"] == [] and doc["not_staged"] == [
        ".mlvc/.gitignore", ".mlvc/config.yaml", ".mlvcignore"]
    assert (inner / ".mlvc/config.yaml").is_file()
    status = json.loads(project.run("status", "--json").stdout)
    assert status["clean"] is False
    assert status["changed"] == [{"pointer": "data.mlvc", "path": "data",
                                  "other_projects": ["data/inner"]}]
    assert "another project:  data/inner/" in project.run("status").stdout
    (inner / "b.txt").write_text("mine")
    (project.root / "data/a.txt").unlink()
    for force in ([], ["--force"]):
        r = project.run("checkout", *force, code=1)
        assert "error: data/inner: holds another mlvc project now: its recorded files " \
            "were left alone" in r.stderr
        assert "hint: `mlvc commit` records the output without that folder" in r.stderr
        assert project.read("data/inner/b.txt") == "mine"
        assert project.read("data/a.txt") == "a"
    project.run("commit", "data")
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    project.run("checkout")
    assert project.read("data/inner/b.txt") == "mine"


def test_init_that_fails_leaves_nothing_behind(project, monkeypatch):
    from mlvc.errors import ScmError
    from mlvc.scm import Git

    def refuse(self, paths):
        raise ScmError("git add failed: index.lock exists")

    monkeypatch.setattr(Git, "add", refuse)
    (project.root / "sub").mkdir()
    r = project.run("init", "--force", code=1, cwd=project.root / "sub")
    assert "error: git add failed: index.lock exists" in r.stderr
    assert os.listdir(project.root / "sub") == []
    # A project there before keeps its folder when re-initialising it fails.
    r = project.run("init", "--force", code=1)
    assert (project.root / ".mlvc/config.yaml").is_file()
    assert (project.root / ".mlvcignore").is_file()


def test_outside_a_project(tmp_path):
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["-C", str(tmp_path), "status"])
    assert r.exit_code == 1 and r.stderr.startswith("error: not an mlvc project")
    assert "hint: run `mlvc init`" in r.stderr


def test_usage_error_is_exit_code_2_with_error_and_hint_lines(project):
    r = project.run("add", code=2)
    assert r.stderr.splitlines() == [
        "error: Missing argument 'TARGETS...'.",
        "Usage: mlvc add [OPTIONS] TARGETS...",
        "hint: `mlvc add --help` describes the arguments and options"]
    r = project.run("status", "--bogus", code=2)
    assert r.stderr.startswith("error: No such option '--bogus'")
    r = project.run("remote", "frob", code=2)
    assert r.stderr.startswith("error: No such command 'frob'.")
    assert "hint: `mlvc remote --help` lists the commands" in r.stderr
    # Errors in the group's own options, parsed before any command.
    r = project.runner.invoke(cli, ["--bogus", "status"])
    assert r.exit_code == 2 and r.stderr.startswith("error: No such option '--bogus'")
    assert "Error:" not in r.stderr


def test_dvcs_other_command_names_work_and_a_mistyped_one_gets_suggestions(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    project.run("mv", "data", "moved")  # (dvc mv)
    assert project.read("moved/a") == "1" and (project.root / "moved.mlvc").exists()
    assert "moved/" in project.run("list").stdout  # (dvc list)
    project.run("rm", "moved.mlvc")  # (dvc rm)
    assert not (project.root / "moved.mlvc").exists()
    assert "Experiment" in project.run("experiments", "show").stdout
    r = project.runner.invoke(cli, ["--cd", str(project.root / "moved"), "root"])
    assert r.exit_code == 0 and r.stdout.strip() == ".."  # (dvc --cd)
    # (DVC's --wait-for-lock: mlvc always waits for the lock; -V is DVC's --version)
    assert "data" not in project.run("--wait-for-lock", "status").stderr
    assert project.run("-V").stdout.startswith("mlvc ")
    project.run("exp", "ls")
    project.run("exp", "rm", "nope", code=1)  # (exp remove's own error: no such experiment)
    top = project.run("--help").stdout
    assert "move (mv)" in top and "remove (rm)" in top and "ls (list)" in top
    assert "list (ls)" in project.run("exp", "--help").stdout
    r = project.run("stauts", code=2)
    assert r.stderr.startswith("error: No such command 'stauts'. Did you mean 'status'?")
    r = project.run("exp", "rn", code=2)
    assert "Did you mean 'run'?" in r.stderr
    assert "hint: `mlvc exp --help` lists the commands" in r.stderr

def test_dvcs_flags_that_mlvc_needs_not_are_taken(tmp_path):
    """`init --subdir` and `checkout --summary`: DVC scripts pass them; mlvc behaves so
    already (a project in a git subfolder; a checkout that prints counts)."""
    import subprocess

    from tests.conftest import Project

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    sub = tmp_path / "sub"
    sub.mkdir()
    p = Project(sub)
    p.run("init", "--subdir")
    assert (sub / ".mlvc").is_dir() and not (tmp_path / ".mlvc").exists()
    p.gen({"d": {"a": "1", "b": "2"}})
    p.run("add", "d")
    (sub / "d/a").unlink()
    assert p.run("checkout", "--summary").stdout == "1 added\n"


def test_remove_keeps_data_and_cache(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    r = project.run("remove", "data.mlvc")
    assert "Removed data.mlvc" in r.stdout
    assert not (project.root / "data.mlvc").exists()
    assert not (project.root / ".gitignore").exists()
    assert project.read("data/a") == "1"
    project.run("add", "data")
    project.run("remove", "data", "--outs")
    assert not (project.root / "data").exists()


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_remove_makes_the_data_it_keeps_private_copies(project, link):
    """As `dvc remove` unprotects: data no longer tracked must not hang on the cache (a
    symlink would break with the cache; a hard link is read-only, and the cache's copy)."""
    project.run("config", "cache.type", link)
    project.gen({"data": {"a": "1", "s": {"b": "2"}}, "model.bin": "m"})
    project.run("add", "data", "model.bin")
    r = project.run("remove", "data.mlvc")
    assert "The data stays: 2 files that linked to the cache are private copies now" in r.stdout
    for f in (project.root / "data/a", project.root / "data/s/b"):
        st = f.lstat()
        assert not f.is_symlink() and st.st_nlink == 1 and st.st_mode & 0o200
    doc = json.loads(project.run("remove", "model.bin", "--json").stdout)
    assert doc["unprotected"] == 1
    shutil.rmtree(project.root / ".mlvc/cache")
    assert project.read("data/s/b") == "2" and project.read("model.bin") == "m"
    # with --outs there is nothing left to keep
    project.gen({"more": {"c": "3"}})
    project.run("add", "more")
    assert json.loads(project.run("remove", "more", "--outs", "--json").stdout)[
        "unprotected"] == 0


def test_remove_takes_several_targets_and_checks_them_all_first(project):
    from tests.conftest import snapshot

    project.gen({"m": {f"f{i}.pt": str(i) for i in range(25)}, "data": {"a": "1"}})
    project.run("add", "data", *[f"m/f{i}.pt" for i in range(25)])
    project.commit_all("tracked")  # git lists a deleted file to `git add` only if it knew it
    before = snapshot(project.root, skip=(".git", "tmp"))
    r = project.run("remove", "m/f1.pt.mlvc", "nope", code=1)
    assert "'nope' is neither a pointer file, a tracked output nor a stage" in r.stderr
    assert snapshot(project.root, skip=(".git", "tmp")) == before  # not even m/f1.pt.mlvc
    # Pointers and outputs, one of them twice (as its pointer and as its output).
    targets = ["data", "data.mlvc", *[f"m/f{i}.pt" for i in range(24)]]
    doc = json.loads(project.run("remove", "--json", *targets).stdout)
    assert [r["pointer"] for r in doc["removed"]] == [
        "data.mlvc", *[f"m/f{i}.pt.mlvc" for i in range(24)]]
    assert doc["removed"][0]["outs"] == ["data"] and doc["deleted_outs"] is False
    assert doc["git_files"] == [r["pointer"] for r in doc["removed"]] + [
        ".gitignore", "m/.gitignore"]
    assert not (project.root / ".gitignore").exists()
    assert project.read("m/.gitignore") == "/f24.pt\n"
    assert sorted(p.name for p in (project.root / "m").glob("*.mlvc")) == ["f24.pt.mlvc"]
    assert project.read("data/a") == "1" and project.read("m/f3.pt") == "3"
    project.run("add", "m/f0.pt", "m/f1.pt")
    r = project.run("remove", "--outs", "m/f0.pt.mlvc", "m/f1.pt")
    assert r.stdout.splitlines()[:2] == ["Removed m/f0.pt.mlvc and its data",
                                         "Removed m/f1.pt.mlvc and its data"]
    assert not (project.root / "m/f0.pt").exists() and not (project.root / "m/f1.pt").exists()


def test_remove_outs_refuses_unsaved_changes(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    (project.root / "data/a").write_text("unsaved")
    r = project.run("remove", "data", "--outs", code=1)
    assert "not in the cache" in r.stderr and "--force" in r.stderr
    assert project.read("data/a") == "unsaved"
    project.run("remove", "data", "--outs", "--force")
    assert not (project.root / "data").exists()


def test_remove_outs_refuses_a_file_whose_cache_object_went_bad(project):
    """Its bytes are "saved", but the cache's copy is corrupt: the file is the last sound
    copy. `mlvc commit` stores it again, and then the data may go."""
    import os

    from mlvc.objects.oid import hash_bytes

    project.run("config", "cache.type", "copy")
    project.gen({"data": {"a": "good bytes"}})
    project.run("add", "data")
    oid = hash_bytes(b"good bytes")
    obj = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"evil bytes")
    r = project.run("remove", "data", "--outs", code=1)
    assert ("error: 'data/a' is the only sound copy of its bytes: its cache object is missing "
            "or corrupt") in r.stderr and "hint: `mlvc commit` stores it in the cache" in r.stderr
    assert project.read("data/a") == "good bytes"
    project.run("commit")
    assert obj.read_bytes() == b"good bytes"
    project.run("remove", "data", "--outs")
    assert not (project.root / "data").exists()


def test_remove_outs_refuses_data_added_with_no_commit(project):
    """`add --no-commit` stored nothing: the workspace holds the only copy."""
    project.gen({"data": {"a": "only here"}})
    project.run("add", "--no-commit", "data")
    r = project.run("remove", "data", "--outs", code=1)
    assert "'data' is the only sound copy of its bytes" in r.stderr
    assert project.read("data/a") == "only here"
    project.run("commit")
    project.run("remove", "data", "--outs")
    assert not (project.root / "data").exists()


def test_remove_outs_refuses_to_delete_files_the_folder_holds_untracked(project):
    """rmtree took files that .mlvcignore leaves out (in no cache) and nested .git folders
    with the tracked ones."""
    project.gen({"data": {"a": "1"}, ".mlvcignore": "*.tmp\n"})
    project.run("add", "data")
    project.gen({"data": {"notes.tmp": "precious", "more.tmp": "too"}})
    r = project.run("remove", "data", "--outs", code=1)
    assert ("error: 'data/more.tmp' is in 'data' but not tracked (.mlvcignore, a .git folder "
            "or another project leaves it out): deleting the folder would lose it and 1 more"
            ) in r.stderr
    assert project.read("data/notes.tmp") == "precious" and project.read("data.mlvc")
    for name in ("notes.tmp", "more.tmp"):
        (project.root / "data" / name).unlink()
    project.gen({"data": {".git": {"HEAD": "ref: x"}}})
    r = project.run("remove", "data", "--outs", code=1)
    assert "'data/.git/HEAD' is in 'data' but not tracked" in r.stderr
    project.run("remove", "data", "--outs", "--force")
    assert not (project.root / "data").exists()


def test_remove_outs_asks_on_a_terminal(project, monkeypatch):
    from mlvc.cli import render

    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    (project.root / "data/a").write_text("unsaved")
    monkeypatch.setattr(render, "interactive", lambda: True)
    r = project.runner.invoke(cli, ["-C", str(project.root), "remove", "data", "--outs"],
                              input="n\n")
    assert r.exit_code == 1 and "Delete anyway?" in r.stderr
    assert project.read("data/a") == "unsaved"
    r = project.runner.invoke(cli, ["-C", str(project.root), "remove", "data", "--outs"],
                              input="y\n")
    assert r.exit_code == 0, r.stderr
    assert not (project.root / "data").exists()


def test_move_into_a_folder_mlvcignore_leaves_out_is_refused(project):
    """Moved there, the output and its pointer were passed by: "Nothing is tracked yet",
    and no command could name it to move it back."""
    project.gen({"data": {"a": "1"}, ".mlvcignore": "scratch/\n", "scratch": {}})
    project.run("add", "data")
    for dst in ("scratch/data", "scratch"):
        r = project.run("move", "data", dst, code=1)
        assert "error: 'scratch/data' is ignored by .mlvcignore" in r.stderr
    assert (project.root / "data.mlvc").exists() and (project.root / "data/a").exists()
    assert json.loads(project.run("status", "--json").stdout)["tracked"] == 1


def test_move_renames_data_pointer_and_gitignore(project):
    project.gen({"data": {"a": "1"}, "archive": {}})
    project.run("add", "data")
    project.run("move", "data", "archive/raw")
    assert project.read("archive/raw/a") == "1"
    assert (project.root / "archive/raw.mlvc").exists()
    assert not (project.root / "data.mlvc").exists()
    assert project.read("archive/.gitignore") == "/raw\n"
    assert not (project.root / ".gitignore").exists()
    assert "path: raw" in project.read("archive/raw.mlvc")
    assert "up to date" in project.run("status").stdout
    r = project.run("move", "archive/raw", "archive", code=1)
    assert "exists already" in r.stderr


def test_remove_or_move_of_a_part_of_an_output_names_the_output(project):
    project.gen({"data": {"sub": {"b": "bee"}}})
    project.run("add", "data")
    for args, usage in ((["remove", "data/sub"], "`mlvc remove data`"),
                        (["move", "data/sub", "x"], "`mlvc move data DST`")):
        r = project.run(*args, code=1)
        assert "hint: it is inside 'data', which data.mlvc tracks as a whole" in r.stderr
        assert usage in r.stderr
    r = project.run("remove", "nothing", code=1)
    assert "hint: `mlvc status` lists what is tracked" in r.stderr
    assert project.read("data/sub/b") == "bee" and (project.root / "data.mlvc").exists()


def _hinted_git_add(stdout: str) -> list[str]:
    """The arguments of the `git add` line that mlvc printed."""
    import shlex

    line = next(ln for ln in stdout.splitlines() if ln.strip().startswith("git add "))
    return shlex.split(line)[2:]


def test_git_hint_runs_when_the_pointer_was_never_in_git(project):
    # `git add` of a path git has never seen fails as a whole: the hint must leave it out.
    project.gen({"my data": {"a": "1"}})
    project.run("add", "my data")
    moved = _hinted_git_add(project.run("move", "my data", "other data").stdout)
    assert moved == ["other data.mlvc", ".gitignore"]
    project.git("add", *moved)  # check=True: git accepts every path listed
    removed = _hinted_git_add(project.run("remove", "other data.mlvc").stdout)
    assert removed == ["other data.mlvc", ".gitignore"]  # both staged just now
    project.git("add", *removed)
    assert project.git("status", "--porcelain") == '?? "other data/"\n'  # remove keeps data


def test_git_hint_stages_deletions_of_committed_pointers(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    project.commit_all("track data")
    moved = _hinted_git_add(project.run("move", "data", "raw").stdout)
    assert moved == ["data.mlvc", "raw.mlvc", ".gitignore"]
    project.git("add", *moved)
    assert project.git("status", "--porcelain").splitlines() == [
        "M  .gitignore", "R  data.mlvc -> raw.mlvc"]


def test_git_hint_paths_are_relative_to_where_the_user_is(project):
    project.gen({"sub": {"deep": {"x.csv": "1"}}})
    here = project.root / "sub"
    files = _hinted_git_add(project.run("add", "deep/x.csv", cwd=here).stdout)
    assert files == ["deep/x.csv.mlvc", "deep/.gitignore"]
    subprocess.run(["git", "add", *files], cwd=here, check=True)  # works pasted as it is
    assert project.git("diff", "--cached", "--name-only").split() == [
        "sub/deep/.gitignore", "sub/deep/x.csv.mlvc"]


def test_paths_printed_in_a_sub_folder_are_relative_to_it_as_in_git(project):
    project.gen({"sub": {"d": {"x": "1"}, "deep": {}}, "top": {"y": "2"}})
    here = project.root / "sub" / "deep"
    r = project.run("add", "../d", "../../top", cwd=here)
    assert "Added ../d (1 file, 1 B) -> ../d.mlvc" in r.stdout
    assert "Added ../../top (1 file, 1 B) -> ../../top.mlvc" in r.stdout
    (project.root / "sub" / "d" / "x").write_text("changed")
    r = project.run("status", cwd=project.root / "sub", code=None)
    assert r.stdout.splitlines()[:2] == ["d (d.mlvc):", "  modified:         d/x"]
    # --json is for scripts: paths from the project root, wherever it runs (git's porcelain)
    doc = json.loads(project.run("status", "--json", cwd=here, code=None).stdout)
    assert doc["changed"][0]["modified"] == ["sub/d/x"]
    r = project.run("checkout", cwd=here, code=1)
    assert r.stderr.splitlines()[1] == "  ../d/x"  # the kept file, as typed here
    r = project.run("move", "../d", "e", cwd=here)
    assert r.stdout.startswith("Moved ../d -> e (e.mlvc)")
    assert project.run("status", cwd=project.root).stdout.splitlines()[0] == (
        "sub/deep/e (sub/deep/e.mlvc):")  # at the root, as recorded
    for command in ("status", "checkout", "commit", "unprotect", "push"):
        r = project.run(command, "../d/nothing", cwd=here, code=1)
        assert r.stderr.startswith("error: '../d/nothing' is not tracked by mlvc"), command


def test_hints_name_commands_that_work_pasted_in_the_sub_folder(project):
    import shlex

    project.gen({"sub": {"my data": {"x": "1"}, "deep": {}}})
    here = project.root / "sub" / "deep"
    project.run("add", "../my data", cwd=here)
    (project.root / "sub" / "my data" / "x").write_text("changed")

    def hinted(r) -> list[str]:
        return shlex.split(r.stderr.split("`mlvc ", 1)[1].split("`", 1)[0])

    r = project.run("add", "../my data/x", cwd=here, code=1)
    assert r.stderr.startswith(
        "error: '../my data/x' is inside '../my data', which ../my data.mlvc tracks already")
    assert hinted(r) == ["add", "../my data"]
    for args in (["remove", "../my data/x"], ["move", "../my data/x", "y"]):
        r = project.run(*args, cwd=here, code=1)
        assert "hint: it is inside '../my data', which ../my data.mlvc tracks as a whole" \
            in r.stderr
        assert hinted(r)[1] == "../my data"
    project.run(*hinted(project.run("add", "../my data/x", cwd=here, code=1)), cwd=here)
    assert json.loads(project.run("status", "--json").stdout)["clean"]

    project.gen({"sub": {"g.csv": "1"}})
    project.git("add", "sub/g.csv")
    r = project.run("add", "../g.csv", cwd=here, code=1)
    assert "error: '../g.csv' is tracked by git already" in r.stderr
    git_rm = shlex.split(r.stderr.split("git first: ", 1)[1])
    subprocess.run(git_rm, cwd=here, check=True)  # the hinted git command, pasted here
    project.run("add", "../g.csv", cwd=here)


def _staged(project) -> set[str]:
    return set(project.git("diff", "--cached", "--name-only", "-z").split("\0")) - {""}


def test_git_hint_for_many_files_names_their_folders_when_that_is_exact(project):
    project.gen({"models": {f"m{i}.pt": str(i) for i in range(25)},
                 "runs": {"a": {f"r{i}.pt": str(i) for i in range(25)}}})
    targets = [f"models/m{i}.pt" for i in range(25)] + [f"runs/a/r{i}.pt" for i in range(25)]
    r = project.run("add", *targets)
    assert _hinted_git_add(r.stdout) == ["models", "runs/a"]
    assert "Those folders hold the 52 changed files and no other change" in r.stdout
    project.git("add", "models", "runs/a")
    assert _staged(project) == {f"{t}.mlvc" for t in targets} | {
        "models/.gitignore", "runs/a/.gitignore"}  # exactly the files, nothing else
    project.commit_all("track")

    # From inside the folder, as git's own paths are: "." is that folder.
    for i in range(25):
        (project.root / "models" / f"m{i}.pt").write_text(f"new {i}")
    here = project.root / "models"
    r = project.run("commit", "--force", cwd=here)
    assert _hinted_git_add(r.stdout) == ["."]
    subprocess.run(["git", "add", "."], cwd=here, check=True)
    assert _staged(project) == {f"models/m{i}.pt.mlvc" for i in range(25)}


def test_git_hint_lists_every_file_when_the_folder_holds_other_changes(project):
    project.gen({"models": {**{f"m{i}.pt": str(i) for i in range(25)}, "notes.txt": "mine"}})
    r = project.run("add", *[f"models/m{i}.pt" for i in range(25)])
    files = _hinted_git_add(r.stdout)
    assert len(files) == 26 and "models/notes.txt" not in files  # notes.txt is the user's
    project.git("add", *files)
    assert _staged(project) == set(files)


def test_git_hint_names_many_folders_by_their_parent(project):
    # 30 folders are more than a hint should list: their parent stands for them.
    project.gen({"exp": {f"run{i}": {"model.pt": str(i)} for i in range(30)}})
    r = project.run("add", *[f"exp/run{i}/model.pt" for i in range(30)])
    assert _hinted_git_add(r.stdout) == ["exp"]
    project.git("add", "exp")
    assert len(_staged(project)) == 60  # 30 pointers and 30 .gitignore files


def test_git_hint_never_uses_a_folder_git_reads_as_a_pattern(project):
    project.gen({"m*": {f"m{i}.pt": str(i) for i in range(25)}, "mx": {"mine.txt": "1"}})
    files = _hinted_git_add(project.run("add", *[f"m*/m{i}.pt" for i in range(25)]).stdout)
    assert len(files) == 26  # `git add m*` would take mx/mine.txt too
    project.git("--literal-pathspecs", "add", *files)
    assert _staged(project) == set(files)


def test_autostage_of_many_files_gives_their_number(project):
    project.run("config", "core.autostage", "true")
    project.gen({"models": {f"m{i}.pt": str(i) for i in range(25)}})
    r = project.run("add", *[f"models/m{i}.pt" for i in range(25)])
    assert "Staged 26 files in git (`--json` lists them)." in r.stdout
    assert len(_staged(project)) == 26


def test_autostage_covers_move_and_remove(project):
    project.run("config", "core.autostage", "true")
    project.commit_all("autostage")
    project.gen({"data": {"a": "1"}})
    assert "Staged in git: data.mlvc .gitignore" in project.run("add", "data").stdout
    project.commit_all("track data")
    r = project.run("move", "data", "raw", "--json")
    assert json.loads(r.stdout)["staged"] is True
    assert project.git("status", "--porcelain").splitlines() == [
        "M  .gitignore", "R  data.mlvc -> raw.mlvc"]
    project.commit_all("move")
    assert "Staged in git: raw.mlvc .gitignore" in project.run("remove", "raw.mlvc").stdout
    assert project.git("status", "--porcelain").splitlines() == [
        "D  .gitignore", "D  raw.mlvc", "?? raw/"]  # remove keeps data


def test_no_git_hint_without_git(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    (tmp_path / "f").write_text("x")
    for args in (["init", "--no-scm"], ["add", "f"], ["move", "f", "g"], ["remove", "g.mlvc"]):
        r = runner.invoke(cli, ["-C", str(tmp_path), *args], catch_exceptions=False)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.strip() and "git add" not in r.stdout and "in git" not in r.stdout


def test_config_cli_round_trip_and_secrets(project):
    project.run("config", "core.jobs", "3")
    assert project.run("config", "core.jobs").stdout.strip() == "3"
    project.run("config", "--local", "remotes.s3.secret_access_key", "hunter2")
    listing = project.run("config", "--list").stdout
    assert "core.jobs=3" in listing and "hunter2" not in listing and "***" in listing
    assert "hunter2" not in project.run("config", "remotes.s3.secret_access_key").stdout
    assert "hunter2" in (project.root / ".mlvc/config.local.yaml").read_text()
    assert "local\tremotes.s3.secret_access_key" in project.run(
        "config", "--list", "--show-origin").stdout
    project.run("config", "core.jobs", "--unset")
    r = project.run("config", "core.jobs", code=1)
    assert "not set" in r.stderr and r.stdout == ""
    # An unset key with a built-in default names it (on stderr: scripts see no value).
    jobs = min(16, 4 * (os.cpu_count() or 2))
    assert f"the default is in effect: {jobs} (four per core" in r.stderr
    r = project.run("config", "cache.type", code=1)
    assert "'cache.type' is not set (the default is in effect: reflink, copy)" in r.stderr
    r = project.run("config", "core.remote", code=1)
    assert "default" not in r.stderr  # nothing takes its place
    r = project.run("config", "--local", "cache.type", code=1)  # one file: set there or not
    assert "default" not in r.stderr
    r = project.run("config", "core.jobs", "zero", code=1)
    assert "whole number" in r.stderr
    r = project.run("config", "core.jobs", "100000", code=1)  # a thread per object: refused
    assert f"from 1 to {MAX_JOBS}" in r.stderr
    project.run("config", "core.jobs", str(MAX_JOBS))  # the bound itself is fine
    r = project.run("push", "-j", str(MAX_JOBS + 1), code=2)
    assert f"1<=x<={MAX_JOBS}" in r.stderr
    project.run("config", "cache.type", "[hardlink, copy]")
    for args in (("cache.type",), ("--list",)):  # a list as one would type it
        assert "hardlink,copy" in project.run("config", *args).stdout
    project.run("config", "--global", "core.remote", "shared")
    assert json.loads(project.run("config", "--list", "--json").stdout)["core.remote"] == \
        "shared"


def test_doctor_reports_links_and_no_secrets(project):
    project.run("config", "remotes.store.url", "s3://user:pw@bucket/prefix")
    doc = json.loads(project.run("doctor", "--json").stdout)
    assert doc["link_types"]["copy"] is True and doc["link_types"]["hardlink"] is True
    assert doc["cache_type"] == ["reflink", "copy"]
    assert doc["remotes"]["store"] == "s3://bucket/prefix"
    from importlib import metadata

    assert doc["packages"]["tomlkit"] == metadata.version("tomlkit")  # (every dependency)
    assert doc["packages"]["ruamel.yaml"] == metadata.version("ruamel.yaml")
    text = project.run("doctor").stdout
    assert "pw" not in text and "link types that work here" in text
    assert json.loads(project.run("version", "--json").stdout) == doc  # (as `dvc version`)


@pytest.mark.parametrize("args", [["add", "x"], ["status"], ["checkout"]])
def test_verbose_shows_traceback_only_with_v(project, args):
    (project.root / "x").write_text("1")
    (project.root / ".mlvc/config.yaml").write_text("core: [")
    r = project.run(*args, code=1)
    assert "Traceback" not in r.stderr
    r = project.runner.invoke(cli, ["-v", "-C", str(project.root), *args])
    assert "Traceback" in r.stderr


@pytest.mark.parametrize("args", [["add", "x", "-v"], ["remote", "add", "-v", "r", "/x"]])
def test_verbose_also_after_the_command(project, args):
    (project.root / "x").write_text("1")
    (project.root / ".mlvc/config.yaml").write_text("core: [")
    r = project.run(*args, code=1)
    assert "Traceback" in r.stderr and "error:" in r.stderr


def test_quiet_also_after_the_command(project):
    project.gen({"data": {"a": "1"}})
    assert "Added" in project.run("add", "data").stdout
    project.gen({"data": {"a": "2"}})
    assert project.run("add", "-q", "data").stdout == ""
    assert project.run("status", "--quiet").stdout == ""  # its own -q: also quiet
    project.gen({"data": {"a": "3"}})
    assert project.run("status", "-q", code=1).stdout == ""  # ... and still an exit code
    assert project.run("-q", "status", code=1).stdout == ""  # the global one too
    assert project.run("-q", "status", "-c", code=1).stderr.startswith("error: no remote")
    assert "data" in project.run("status", code=None).stdout
    assert project.run("remote", "add", "r", "/x", "-q").stdout == ""
    # After a stage's command, -q and -v belong to that command.
    project.run("stage", "add", "-n", "s", "echo", "-q", "-v")
    assert "echo -q -v" in project.read("mlvc.yaml")


def test_git_commit_of_pointer_files_works(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    project.git("add", "data.mlvc", ".gitignore")
    project.git("commit", "-q", "-m", "data")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project.root,
                            capture_output=True, text=True).stdout
    assert status == ""


def test_cli_reference_is_up_to_date():
    from pathlib import Path

    from mlvc.cli.reference import render

    doc = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert doc.read_text() == render(), "regenerate: python -m mlvc.cli.reference > docs/cli.md"


def test_two_pointer_files_for_one_path_are_refused_until_one_is_removed(project):
    project.gen({"data": {"a": "1", "sub": {"b": "2"}}})
    project.run("add", "data")
    (project.root / "copy.mlvc").write_text(project.read("data.mlvc"))  # a copied pointer
    for args in (["status"], ["checkout"], ["add", "data"], ["commit"], ["push"]):
        r = project.run(*args, code=1)
        assert r.stderr.startswith("error: 'data' is tracked by both copy.mlvc and data.mlvc")
        assert "`mlvc remove data.mlvc` (or delete that file) keeps copy.mlvc" in r.stderr
    # In a sub-folder, the paths are as seen there, and the hinted command works there.
    (project.root / "sub").mkdir()
    for args in (["status"], ["checkout"], ["add", "../data"], ["commit"], ["push"],
                 ["unprotect", "../data"], ["move", "../data", "x"]):
        r = project.run(*args, cwd=project.root / "sub", code=1)
        assert r.stderr.startswith(
            "error: '../data' is tracked by both ../copy.mlvc and ../data.mlvc"), args
        assert "`mlvc remove ../data.mlvc` (or delete that file) keeps ../copy.mlvc" \
            in r.stderr
    assert "name the pointer file" in project.run("remove", "data", code=1).stderr
    r = project.run("remove", "--outs", "copy.mlvc")  # data.mlvc still tracks data
    assert "Removed copy.mlvc\n" in r.stdout
    assert project.read(".gitignore") == "/data\n" and project.read("data/sub/b") == "2"
    assert json.loads(project.run("status", "--json").stdout)["clean"]
    # A hand-written pointer for a path inside a tracked folder.
    (project.root / "inner.mlvc").write_text(
        project.read("data.mlvc").replace("path: data", "path: data/sub"))
    r = project.run("status", code=1)
    assert r.stderr.startswith(
        "error: 'data' holds 'data/sub', which inner.mlvc tracks; data.mlvc tracks it whole")


def test_every_command_that_a_message_names_exists():
    """Hints and docstrings name commands in backticks (`mlvc fetch`): each must be one that
    this version has, so that a hint never sends the user to a command that is not there."""
    import re
    from pathlib import Path

    import mlvc

    src = Path(mlvc.__file__).parent
    named = set()
    for path in src.rglob("*.py"):
        named |= set(re.findall(r"`mlvc ([a-z][a-z-]*)", path.read_text(encoding="utf-8")))
    assert {"fetch", "commit", "checkout"} <= named  # the pattern finds them
    missing = sorted(n for n in named if n not in COMMANDS and n not in cli.aliases)
    assert not missing, f"messages name commands that do not exist: {missing}"


@pytest.mark.parametrize("euid, link, warned", [(0, "hardlink", True), (0, "symlink", True),
                                                (0, "copy", False), (1000, "hardlink", False)])
def test_doctor_warns_root_that_linked_files_are_not_protected(project, monkeypatch, euid,
                                                               link, warned):
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    project.run("config", "cache.type", link)
    r = project.run("doctor")
    assert ("warning: running as root with links to the cache" in r.stderr) is warned
    assert json.loads(project.run("doctor", "--json").stdout)["root_writes_links"] is warned


def test_check_ignore_names_the_rule_and_exits_1_when_nothing_is_ignored(project):
    project.gen({".mlvcignore": "# logs\n*.log\n!keep.log\n", "sub": {
        ".mlvcignore": "secret*\n", "secret.txt": "s"}})
    r = project.run("check-ignore", "a.log", "keep.log", "sub/secret.txt", "sub/x")
    assert r.stdout.splitlines() == ["a.log", "sub/secret.txt"]
    r = project.run("check-ignore", "-d", "-n", "secret.txt", "../a.log", "x",
                    cwd=project.root / "sub")
    assert r.stdout.splitlines() == [".mlvcignore:1:secret*\tsecret.txt",  # (from sub/)
                                     "../.mlvcignore:2:*.log\t../a.log", "::\tx"]
    assert project.run("check-ignore", "keep.log", code=1).stdout == ""
    doc = json.loads(project.run("check-ignore", "--json", "a.log").stdout)
    assert doc == [{"path": "a.log", "ignored": True, "match": {
        "path": "a.log", "source": ".mlvcignore", "line": 2, "rule": "*.log"}}]
    # --stdin: the paths one a line (a pipe from `find`, say)
    from mlvc.cli.main import cli

    r = project.runner.invoke(cli, ["-C", str(project.root), "check-ignore", "--stdin"],
                              input="a.log\nkeep.log\n\nsub/secret.txt\n")
    assert r.exit_code == 0 and r.stdout.splitlines() == ["a.log", "sub/secret.txt"]
    assert "give a PATH" in project.run("check-ignore", code=2).stderr


def test_root_prints_the_top_folder_relative_to_here(project):
    sub = project.root / "a" / "b"
    sub.mkdir(parents=True)
    assert project.run("root", cwd=sub).stdout == "../..\n"
    assert project.run("root").stdout == ".\n"
    doc = json.loads(project.run("root", "--json", cwd=sub).stdout)
    assert doc == {"root": str(project.root.resolve()), "relative": "../.."}
