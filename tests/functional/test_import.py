"""``mlvc import`` / ``mlvc update``: another project's data tracked here, with its source."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import Project, new_project


@pytest.fixture
def registry(tmp_path) -> Project:
    reg = new_project(tmp_path / "registry")
    reg.gen({"images": {"1.png": "one", "2.png": "two"}, "labels.csv": "a,1\n"})
    reg.run("add", "images", "labels.csv")
    reg.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    reg.commit_all("v1")
    reg.git("tag", "v1")
    reg.run("push")
    return reg


@pytest.fixture
def here(tmp_path) -> Project:
    return new_project(tmp_path / "here")


def test_import_tracks_the_data_with_its_source_and_update_follows_it(registry, here):
    r = here.run("import", "../registry", "images", "--json", cwd=here.root)
    doc = json.loads(r.stdout)
    assert doc["path"] == "images" and doc["files"] == 2 and doc["changed"]
    assert (here.root / "images/1.png").read_text() == "one"
    pointer = yaml.safe_load(here.read("images.mlvc"))
    v1 = registry.git("rev-parse", "HEAD").strip()
    assert pointer["import"] == {"url": "../registry", "path": "images", "rev_lock": v1}
    assert "/images" in here.read(".gitignore")
    assert here.run("status", "-q").exit_code == 0  # (tracked, as recorded)
    here.commit_all("imported")

    r = here.run("update")
    assert "images: up to date with ../registry (" in r.stdout
    assert yaml.safe_load(here.read("images.mlvc"))["import"]["rev_lock"] == v1

    registry.gen({"images": {"1.png": "ONE", "3.png": "three"}})
    registry.run("add", "images")
    registry.commit_all("v2")
    (here.root / "images/2.png").chmod(0o644)
    (here.root / "images/2.png").write_text("my change")  # (kept, as checkout keeps it)
    r = here.run("update", "images.mlvc")
    assert "kept changes of yours in 1 file" in r.stdout
    assert (here.root / "images/1.png").read_text() == "ONE"
    assert (here.root / "images/3.png").read_text() == "three"
    assert (here.root / "images/2.png").read_text() == "my change"
    assert yaml.safe_load(here.read("images.mlvc"))["import"]["rev_lock"] == \
        registry.git("rev-parse", "HEAD").strip()
    r = here.run("update", "images", "--force")
    assert (here.root / "images/2.png").read_text() == "two"
    assert "images: up to date with ../registry (" in r.stdout
    assert "put back as the source has it (--force)" in r.stdout


def test_import_at_a_revision_keeps_following_it(registry, here):
    registry.gen({"labels.csv": "a,2\n"})
    registry.run("add", "labels.csv")
    registry.commit_all("v2")
    registry.run("push")
    url = f"file://{registry.root}"  # (a URL: objects from the source's remote, verified)
    here.run("import", url, "labels.csv", "--rev", "v1", "-o", "data/labels.csv")
    assert here.read("data/labels.csv") == "a,1\n"
    src = yaml.safe_load(here.read("data/labels.csv.mlvc"))["import"]
    assert src["rev"] == "v1" and src["url"] == url
    assert "up to date" in here.run("update").stdout  # (v1 did not move)
    r = here.run("update", "data/labels.csv", "--rev", "main")
    assert here.read("data/labels.csv") == "a,2\n" and "main" in r.stdout
    assert yaml.safe_load(here.read("data/labels.csv.mlvc"))["import"]["rev"] == "main"


def test_an_import_is_ordinary_tracked_data_that_moves_and_pushes(registry, here, tmp_path):
    here.run("import", str(registry.root), "labels.csv")
    here.run("move", "labels.csv", "lab.csv")
    assert yaml.safe_load(here.read("lab.csv.mlvc"))["import"]["path"] == "labels.csv"
    here.run("remote", "add", "-d", "mine", str(tmp_path / "mine"))
    here.run("push")
    here.commit_all("imported")
    clone = tmp_path / "clone"
    here.git("clone", "-q", str(here.root), str(clone))
    Project(clone).run("pull")
    assert (clone / "lab.csv").read_text() == "a,1\n"
    # Changed here and committed: still an import (update would bring the source's back).
    (here.root / "lab.csv").chmod(0o644)
    (here.root / "lab.csv").write_text("mine\n")
    here.run("commit")
    assert "import" in yaml.safe_load(here.read("lab.csv.mlvc"))


def test_bad_imports_are_refused_and_nothing_written(registry, here):
    before = here.snapshot()
    r = here.run("import", str(registry.root), "nope", code=1)
    assert "'nope' is neither tracked by mlvc nor in git" in r.stderr
    r = here.run("import", str(registry.root), "images", "-o", "../out", code=1)
    assert "outside the project" in r.stderr
    r = here.run("import", str(here.root.parent / "missing"), "images", code=1)
    assert "git clone failed" in r.stderr
    r = here.run("update", "nothing", code=1)
    assert "'nothing' is not an imported output" in r.stderr
    assert here.snapshot() == before
    here.run("import", str(registry.root), "images")
    r = here.run("import", str(registry.root), "images", code=1)
    assert "'images' exists already" in r.stderr and "--force" in r.stderr
    here.run("import", str(registry.root), "images", "--force")


def test_an_import_pointer_round_trips_and_bad_sources_are_told():
    from hypothesis import given
    from hypothesis import strategies as st

    from mlvc.config import is_secret
    from mlvc.errors import FormatError
    from mlvc.workspace.pointer import (
        ImportSource,
        Out,
        Pointer,
        SourceRemote,
        dump_pointer,
        parse_pointer,
    )

    text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                   max_size=20).filter(lambda t: t.strip() == t and t)

    name = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,8}", fullmatch=True)

    @given(url=text.filter(lambda t: not t.startswith("-")),
           path=st.sampled_from(["a", "a/b.csv", "ü/x"]),
           rev=st.none() | text.filter(lambda t: not t.startswith("-")),
           lock=st.text("0123456789abcdef", min_size=40, max_size=40),
           remote=st.none() | name,
           options=st.dictionaries(name.filter(lambda k: not is_secret(k)),
                                   st.text(max_size=12), max_size=3))
    def check(url, path, rev, lock, remote, options):
        ptr = Pointer("d/x.mlvc", (Out("d/x", "0" * 32, "file", 3),),
                      ImportSource(url, path, rev, lock,
                                   SourceRemote(remote, tuple(sorted(options.items())))))
        assert parse_pointer(dump_pointer(ptr), "d/x.mlvc") == ptr

    check()
    base = "schema: 1\nouts:\n- {path: x, hash: xxh128, oid: '" + "a" * 32 + \
        "', type: file, size: 1}\n"
    for bad, why in [("import: {url: u, path: p}", "rev_lock"),
                     ("import: {url: u, path: ../p, rev_lock: " + "a" * 40 + "}", "import"),
                     ("import: [1]", "'import' must be a mapping"),
                     ("import: {url: u, path: p, rev: -x, rev_lock: " + "a" * 40 + "}",
                      "import.rev"),
                     ("import: {url: u, path: p, rev_lock: " + "a" * 40 + ", remote: a.b}",
                      "import.remote must"),
                     ("import: {url: u, path: p, rev_lock: " + "a" * 40 +
                      ", remote_config: {password: x}}", "holds 'password', a secret"),
                     ("import: {url: u, path: p, rev_lock: " + "a" * 40 +
                      ", remote_config: [1]}", "import.remote_config must")]:
        with pytest.raises(FormatError, match=why):
            parse_pointer(base + bad + "\n", "x.mlvc")


def test_a_clone_pulls_imports_from_their_source_at_the_recorded_commit(registry, here,
                                                                        tmp_path):
    here.run("import", "../registry", "images")  # (relative: clones side by side work)
    here.commit_all("imported")
    registry.gen({"images": {"1.png": "newer"}})
    registry.run("add", "images")
    registry.commit_all("v2")
    clone = tmp_path / "clone"  # (beside the registry, as `here` is)
    here.git("clone", "-q", str(here.root), str(clone))
    r = Project(clone).run("pull")  # (no remote of its own)
    assert "from the sources of imported data" in r.stdout
    assert (clone / "images/1.png").read_text() == "one"  # (the commit recorded, not v2)
    assert "nothing to transfer" in Project(clone).run("fetch").stdout

    # A source that cannot be read: the project's own remote has the data.
    here.run("remote", "add", "-d", "mine", str(tmp_path / "mine"))
    here.run("push")
    here.commit_all("remote")
    other = tmp_path / "elsewhere" / "clone2"
    other.parent.mkdir()
    here.git("clone", "-q", str(here.root), str(other))
    (other / ".mlvc/config.yaml").write_text((here.root / ".mlvc/config.yaml").read_text())
    r = Project(other).run("pull")
    assert "images.mlvc: not read from its source" in r.stderr
    assert (other / "images/2.png").read_text() == "two"


def test_import_url_tracks_a_folder_and_update_reads_it_when_it_changed(here, tmp_path):
    ext = tmp_path / "ext"
    (ext / "raw/sub").mkdir(parents=True)
    (ext / "raw/a.txt").write_text("a")
    (ext / "raw/sub/b.txt").write_text("b")
    r = here.run("import-url", "../ext/raw", "data", "--json")
    doc = json.loads(r.stdout)
    assert doc["files"] == 2 and doc["source"]["url"] == "../ext/raw"
    assert (here.root / "data/sub/b.txt").read_text() == "b"
    assert yaml.safe_load(here.read("data.mlvc"))["import_url"]["fingerprint"].startswith(
        "dir:")
    assert here.run("status", "-q").exit_code == 0
    assert not list(here.root.glob(".data.mlvc-download*"))  # (nothing left beside it)
    assert "data: up to date with ../ext/raw" in here.run("update").stdout

    (ext / "raw/c.txt").write_text("c")
    (here.root / "data/a.txt").chmod(0o644)
    (here.root / "data/a.txt").write_text("mine")
    r = here.run("update", code=1)  # (your change would be overwritten)
    assert "'data' has changes of yours" in r.stderr and "--force" in r.stderr
    assert (here.root / "data/a.txt").read_text() == "mine"
    r = here.run("update", "--force")
    assert "data: ../ext/raw, 3 files" in r.stdout
    assert (here.root / "data/a.txt").read_text() == "a" and (here.root / "data/c.txt").exists()
    assert here.run("status", "-q").exit_code == 0

    r = here.run("import-url", str(here.root / "data"), "x", code=1)
    assert "inside this project" in r.stderr
    here.run("get-url", "data/c.txt", "copy.txt")  # (a copy may come from the project)
    assert here.read("copy.txt") == "c"
    r = here.run("import-url", "../ext/none", code=1)
    assert "does not exist" in r.stderr


def test_get_url_copies_without_tracking(tmp_path):
    (tmp_path / "one.csv").write_text("1\n")
    outside = tmp_path / "nowhere"
    outside.mkdir()
    Project(outside).run("get-url", "../one.csv", "copy.csv")  # (outside any project)
    assert (outside / "copy.csv").read_text() == "1\n"
    assert sorted(p.name for p in outside.iterdir()) == ["copy.csv"]


def test_ls_url_lists_a_folder_a_level_or_all_of_it_and_a_file(tmp_path):
    write = {"d/a.txt": "aa", "d/sub/b.txt": "bbb", "d/sub/deeper/c.txt": "c"}
    for rel, text in write.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    nowhere = Project(tmp_path)  # (outside any project)
    r = nowhere.run("ls-url", "d")
    assert r.stdout.splitlines() == ["      2 B  a.txt", "           sub/"]
    doc = json.loads(nowhere.run("ls-url", "-R", "d", "--json").stdout)
    assert [(e["path"], e["size"]) for e in doc] == [
        ("a.txt", 2), ("sub/b.txt", 3), ("sub/deeper/c.txt", 1)]
    doc = json.loads(nowhere.run("ls-url", f"file://{tmp_path}/d/sub/b.txt", "--json").stdout)
    assert doc == [{"path": "b.txt", "type": "file", "size": 3}]
    assert "d/none does not exist" in nowhere.run("ls-url", "d/none", code=1).stderr
    # DVC's -T and -L: a tree; files down to a depth, a deeper folder one entry
    lines = nowhere.run("ls-url", "-T", "d").stdout.splitlines()
    assert [line[11:] for line in lines] == ["d", "├── a.txt", "└── sub/", "    ├── b.txt",
                                             "    └── deeper/", "        └── c.txt"]
    assert lines[0].split()[:2] == ["6", "B"] and lines[2].split()[:2] == ["4", "B"]
    doc = json.loads(nowhere.run("ls-url", "-L", "2", "d", "--json").stdout)
    assert doc == [{"path": "a.txt", "type": "file", "size": 2},
                   {"path": "sub/b.txt", "type": "file", "size": 3},
                   {"path": "sub/deeper", "type": "dir", "size": 1}]


def test_a_clone_pulls_import_url_data_from_the_url_while_it_holds_the_same(here, tmp_path):
    ext = tmp_path / "ext"
    (ext / "raw/sub").mkdir(parents=True)
    (ext / "raw/a.txt").write_text("a")
    (ext / "raw/sub/run.sh").write_text("#!/bin/sh\n")
    (ext / "one.csv").write_text("1\n")
    here.run("import-url", "../ext/raw", "data")
    here.run("import-url", "../ext/one.csv")
    here.commit_all("imported")
    clone = tmp_path / "clone"
    here.git("clone", "-q", str(here.root), str(clone))
    r = Project(clone).run("pull")  # (no remote: from the URLs, re-hashed and compared)
    assert "from the sources of imported data" in r.stdout
    assert (clone / "data/sub/run.sh").read_text() == "#!/bin/sh\n"
    assert (clone / "one.csv").read_text() == "1\n"
    assert Project(clone).run("status", "-q").exit_code == 0

    (ext / "raw/a.txt").write_text("changed")
    again = tmp_path / "clone2"
    here.git("clone", "-q", str(here.root), str(again))
    r = Project(again).run("pull", code=1)
    assert "../ext/raw holds other data now than data.mlvc records" in r.stderr
    assert "no default remote" in r.stderr
    assert not list((again / ".mlvc/tmp").glob("import-url-*"))  # (nothing left behind)


def test_a_pointer_cannot_smuggle_options_into_git(here, tmp_path):
    # A cloned project's pointer file names the source that `pull` and `update` clone: a
    # url or rev that git would read as an option (--upload-pack=CMD runs CMD) is refused.
    from mlvc.errors import FormatError, TargetError
    from mlvc.ops.get import cloned
    from mlvc.workspace.pointer import parse_pointer

    text = ("schema: 1\nouts:\n- {path: x, hash: xxh128, oid: '" + "a" * 32 + "', type: file,"
            " size: 1}\nimport: {url: '--upload-pack=touch pwned', path: p, rev_lock: "
            + "b" * 40 + "}\n")
    with pytest.raises(FormatError, match="must not start with '-'"):
        parse_pointer(text, "x.mlvc")
    for url, rev in (("--upload-pack=touch pwned", None), (".", "--orphan=x")):
        with pytest.raises(TargetError, match="starts with '-'"), cloned(url, rev, tmp_path):
            pass
    assert not (tmp_path / "pwned").exists()


def test_files_git_keeps_in_the_source_are_imported_and_updated_too(registry, here, tmp_path):
    registry.gen({"conf": {"labels.csv": "a\n", "run.sh": "#!/bin/sh\n", "empty": {}}})
    os.chmod(registry.root / "conf/run.sh", 0o755)
    (registry.root / "conf/empty/.keep").write_text("")
    registry.commit_all("git-kept files")
    here.run("import", "../registry", "conf")
    assert (here.root / "conf/labels.csv").read_text() == "a\n"
    assert os.access(here.root / "conf/run.sh", os.X_OK)
    assert here.run("status", "-q").exit_code == 0
    here.commit_all("imported")
    registry.gen({"conf": {"labels.csv": "b\n"}})
    registry.commit_all("v2")
    here.run("update", "conf")
    assert (here.root / "conf/labels.csv").read_text() == "b\n"
    here.commit_all("updated")
    clone = tmp_path / "clone"
    here.git("clone", "-q", str(here.root), str(clone))
    Project(clone).run("pull")  # (from the source's git, hashed and compared)
    assert (clone / "conf/labels.csv").read_text() == "b\n"

    os.symlink("/etc", registry.root / "outside")
    registry.commit_all("a link out")
    r = here.run("import", "../registry", "outside/hostname", "-o", "h", code=1)
    assert "leads out of that project" in r.stderr
    os.symlink("/etc/hostname", registry.root / "conf/host")
    registry.commit_all("a link to a file out")
    r = here.run("update", "conf", code=1)
    assert "'host' is a symbolic link in the source" in r.stderr


def test_status_asks_each_imports_source_whether_it_moved(registry, here, tmp_path):
    ext = tmp_path / "ext"
    (ext / "raw").mkdir(parents=True)
    (ext / "raw/a.txt").write_text("a")
    here.run("import", "../registry", "images")
    here.run("import", f"file://{registry.root}", "labels.csv", "--rev", "v1")
    here.run("import-url", "../ext/raw", "data")
    assert here.run("status", "-q").exit_code == 0
    doc = json.loads(here.run("status", "--json").stdout)
    assert doc["clean"] and [(c["path"], c["update_available"], c["error"])
                             for c in doc["imports"]] == [
        ("data", False, None), ("images", False, None), ("labels.csv", False, None)]

    registry.gen({"images": {"1.png": "ONE"}, "labels.csv": "a,2\n"})
    registry.run("add", "images", "labels.csv")
    registry.commit_all("v2")  # main moves; the tag v1 does not
    registry.run("push")  # (a file:// source is read through its remote)
    (ext / "raw/b.txt").write_text("b")
    here.run("status", "-q", code=1)
    r = here.run("status", code=None)
    assert "images (images.mlvc):\n  update available: ../registry" in r.stdout
    assert "data (data.mlvc):\n  update available: ../ext/raw" in r.stdout
    assert "labels.csv" not in r.stdout and "`mlvc update` brings imports up" in r.stdout
    doc = json.loads(here.run("status", "--json").stdout)
    assert not doc["clean"]
    assert [c["path"] for c in doc["imports"] if c["update_available"]] == ["data", "images"]
    # --no-updates asks nothing (the pre-commit hook's way): clean, no imports listed
    doc = json.loads(here.run("status", "--no-updates", "--json").stdout)
    assert doc["clean"] and "imports" not in doc
    # Targets narrow what is asked too.
    doc = json.loads(here.run("status", "labels.csv", "--json").stdout)
    assert doc["clean"] and [c["path"] for c in doc["imports"]] == ["labels.csv"]

    registry.git("tag", "-f", "v1")  # the tag moved: its import has an update too
    doc = json.loads(here.run("status", "--json").stdout)
    assert [c["path"] for c in doc["imports"] if c["update_available"]] == [
        "data", "images", "labels.csv"]
    here.run("update")
    assert here.run("status", "-q").exit_code == 0


def test_a_source_that_cannot_be_asked_is_a_warning_not_a_difference(registry, here):
    here.run("import", "../registry", "labels.csv")
    registry.root.rename(registry.root.with_name("moved-away"))
    r = here.run("status")
    assert "warning: could not ask ../registry whether labels.csv moved" in r.stderr
    assert "Data and pipelines are up to date." in r.stdout
    assert here.run("status", "-q").exit_code == 0
    (check,) = json.loads(here.run("status", "--json").stdout)["imports"]
    assert check["update_available"] is False and "ls-remote" in check["error"]


def test_latest_commit_finds_what_a_clones_checkout_would(tmp_path):
    from mlvc.ops.imports import latest_commit
    from tests.conftest import Project

    repo = tmp_path / "r"
    repo.mkdir()
    p = Project(repo)
    p.git("init", "-q", "-b", "main")
    p.gen({"a": "1"}, commit="one")
    one = p.git("rev-parse", "HEAD").strip()
    p.git("tag", "-a", "-m", "annotated", "v1")  # (its own object: the commit is peeled)
    p.git("branch", "dev")
    p.gen({"a": "2"}, commit="two")
    two = p.git("rev-parse", "HEAD").strip()
    p.git("tag", "dev")  # a tag and a branch of one name: checkout takes the branch
    assert latest_commit(str(repo), None) == two
    assert latest_commit(str(repo), "main") == two
    assert latest_commit(str(repo), "v1") == one
    assert latest_commit(str(repo), "dev") == one
    assert latest_commit(str(repo), "refs/tags/dev") == two
    assert latest_commit(str(repo), one) is None  # a commit cannot move
    assert latest_commit(str(repo), "main~1") is None
    with pytest.raises(Exception, match="starts with '-'"):
        latest_commit("--upload-pack=touch /tmp/x", None)


def test_fetch_of_all_commits_gets_each_revisions_imports_from_their_sources(registry, here,
                                                                            tmp_path):
    here.run("import", "../registry", "images")
    here.commit_all("imported v1")
    registry.gen({"images": {"1.png": "newer"}})
    registry.run("add", "images")
    registry.commit_all("v2")
    here.run("update")
    here.commit_all("updated to v2")
    clone = tmp_path / "clone"  # (no remote of its own: every version from the source)
    here.git("clone", "-q", str(here.root), str(clone))
    r = Project(clone).run("fetch", "-A")
    assert "not read from its source" not in r.stderr
    Project(clone).git("checkout", "-q", "HEAD~1")
    Project(clone).run("checkout")
    assert (clone / "images/1.png").read_text() == "one"  # v1, fetched with v2
    Project(clone).git("checkout", "-q", "-")
    Project(clone).run("checkout")
    assert (clone / "images/1.png").read_text() == "newer"


def test_ls_repo_lists_another_projects_data_before_import(registry, here, tmp_path):
    doc = json.loads(here.run("ls", "--repo", "../registry", "--json").stdout)
    assert [(e["path"], e["type"], e.get("pointer")) for e in doc["entries"]] == [
        ("images", "dir", "images.mlvc"), ("labels.csv", "file", "labels.csv.mlvc")]
    assert doc["rev"]["sha"] == registry.git("rev-parse", "HEAD").strip()
    # A URL: the folder's manifest comes from its remote (no cache of its own is read).
    registry.gen({"images": {"3.png": "three"}})
    registry.run("add", "images")
    registry.commit_all("v2")
    registry.run("push")
    shutil.rmtree(registry.root / ".mlvc/cache")
    nowhere = tmp_path / "nowhere"  # (outside any project)
    nowhere.mkdir()
    r = Project(nowhere).run("ls", "--repo", f"file://{registry.root}", "images", "-R")
    assert [line.split()[-1] for line in r.stdout.splitlines()] == [
        "images/1.png", "images/2.png", "images/3.png"]
    doc = json.loads(Project(nowhere).run("ls", "--repo", f"file://{registry.root}", "images",
                                          "--rev", "v1", "--json").stdout)
    assert [e["path"] for e in doc["entries"]] == ["images/1.png", "images/2.png"]
    r = Project(nowhere).run("ls", "--repo", str(registry.root), "nope", code=1)
    assert "'nope' is not tracked by mlvc" in r.stderr
    assert not list(nowhere.iterdir())  # (nothing left of the clone)


def test_api_reads_another_projects_data_through_its_git_url(registry, tmp_path,
                                                             monkeypatch):
    import mlvc.api

    registry.gen({"images": {"1.png": "ONE"}, "params.yaml": "lr: 0.5\n",
                  "mlvc.yaml": yaml.safe_dump({"stages": {"s": {"cmd": "true",
                                                                "params": ["lr"]}}})})
    registry.run("add", "images")
    registry.commit_all("v2")
    registry.run("push")
    shutil.rmtree(registry.root / ".mlvc/cache")  # (the data comes from its remote)
    monkeypatch.chdir(tmp_path)  # (outside any project)
    url = f"file://{registry.root}"
    assert mlvc.api.read("images/1.png", repo=url) == "ONE"
    assert mlvc.api.read("images/1.png", repo=url, rev="v1") == "one"
    with mlvc.api.open("labels.csv", repo=url, mode="rb") as f:
        assert f.read() == b"a,1\n"
    assert mlvc.api.params_show(repo=url) == {"lr": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry", "store"]  # (no clone)
    with pytest.raises(Exception, match="neither tracked by mlvc nor in git"):
        mlvc.api.read("nope.txt", repo=url)


def test_no_download_records_the_import_and_pull_gets_it_from_the_source(registry, here):
    from mlvc.objects.store import ObjectStore

    r = here.run("import", "../registry", "images", "--no-download")
    assert "Recorded, not downloaded" in r.stdout
    pointer = yaml.safe_load(here.read("images.mlvc"))
    assert pointer["outs"][0]["nfiles"] == 2 and "rev_lock" in pointer["import"]
    assert not (here.root / "images").exists()
    assert "/images" in here.read(".gitignore")
    cache = ObjectStore(here.root / ".mlvc/cache")
    assert not cache.exists(pointer["outs"][0]["oid"])  # (nothing of it stored)
    here.run("pull")  # (no remote here: from the source, at the recorded commit)
    assert (here.root / "images/1.png").read_text() == "one"
    assert here.run("status", "-q").exit_code == 0

    registry.gen({"images": {"1.png": "ONE"}})
    registry.run("add", "images")
    registry.commit_all("v2")
    here.run("update", "--no-download")
    assert (here.root / "images/1.png").read_text() == "one"  # (not placed yet)
    assert yaml.safe_load(here.read("images.mlvc"))["import"]["rev_lock"] == \
        registry.git("rev-parse", "HEAD").strip()
    here.run("pull", "-f")
    assert (here.root / "images/1.png").read_text() == "ONE"
    # A URL's: its new fingerprint alone is recorded; the output is pending until a pull.
    here.run("import-url", "../registry/labels.csv", "l.csv")
    assert "l.csv: up to date" in here.run("update", "--no-download", "l.csv").stdout
    (registry.root / "labels.csv").chmod(0o644)
    (registry.root / "labels.csv").write_text("a,2\n")
    here.run("update", "--no-download", "l.csv")
    doc = yaml.safe_load(here.read("l.csv.mlvc"))
    assert "oid" not in doc["outs"][0] and doc["import_url"]["fingerprint"]
    assert here.read("l.csv") == "a,1\n"  # (the old data is still there, not recorded)
    here.run("pull", "l.csv")
    assert here.read("l.csv") == "a,2\n"
    assert here.run("status", "-q").exit_code == 0


def test_get_url_names_a_files_object_on_the_remote(registry, here, tmp_path):
    import mlvc.api

    r = here.run("get", "../registry", "images/1.png", "--show-url")
    url = r.stdout.strip()
    assert url.startswith(str(tmp_path / "store")) and Path(url).read_text() == "one"
    assert mlvc.api.get_url("images/1.png", repo=registry.root) == url  # (the API, alike)
    assert Path(mlvc.api.get_url("labels.csv", repo=registry.root)).read_text() == "a,1\n"
    registry.gen({"many": {f"f{i:02}.txt": f"{i}\n" for i in range(20)}, "code.py": "x"})
    registry.run("add", "many")
    registry.commit_all("many")
    registry.run("push")  # (20 small files: one pack)
    for path, why in (("many/f03.txt", "travels in a pack"), ("code.py", "kept in git"),
                      ("images", "is a folder")):
        assert why in here.run("get", "../registry", path, "--show-url", code=1).stderr


def test_import_url_to_remote_sends_a_batch_at_a_time_and_records_what_import_url_would(
        here, tmp_path, monkeypatch):
    from mlvc.objects.store import ObjectStore
    from mlvc.ops import import_url, push
    from tests.conftest import snapshot

    ext = tmp_path / "ext"
    (ext / "raw/sub/deeper").mkdir(parents=True)
    for i in range(6):
        (ext / f"raw/f{i}.txt").write_text(f"file {i}\n" * (i + 1))
    (ext / "raw/sub/deeper/b.bin").write_bytes(os.urandom((1 << 20) + 3))  # (loose)
    (ext / "one.csv").write_text("1\n")
    remote = tmp_path / "remote"
    here.run("remote", "add", "-d", "store", str(remote))
    monkeypatch.setattr(import_url, "SEND_BATCH_BYTES", 100)  # (about a file a batch)
    held: list[int] = []  # files downloaded and not yet deleted, at each send
    real = push.push_outside

    def counting(repo, stored, **kw):
        held.append(sum(len(list(d.iterdir()))
                        for d in (here.root / ".mlvc/tmp").glob("import-url-*")))
        return real(repo, stored, **kw)

    monkeypatch.setattr(push, "push_outside", counting)
    doc = json.loads(here.run("import-url", "../ext/raw", "data", "--to-remote",
                              "--json").stdout)
    # batches of at most 100 bytes (or one file): f0-f3, f4-f5, b.bin; then the manifests
    assert held == [4, 2, 1, 0]
    assert not (here.root / "data").exists() and not list((here.root / ".mlvc/tmp").glob(
        "import-url-*"))  # (no copy in the workspace; the batches' folder is gone)
    cache = ObjectStore(here.root / ".mlvc/cache")
    files = json.loads(here.run("ls", "data", "-R", "--json").stdout)["entries"]
    assert len([e for e in files if e["type"] == "file"]) == 7
    assert not any(cache.exists(e["oid"]) for e in files if e["type"] == "file")
    assert json.loads(here.run("status", "-c", "--json", code=None).stdout)[
        "not_on_remote"] == []
    # the same record as a plain import-url of that URL
    monkeypatch.undo()
    plain = json.loads(here.run("import-url", "../ext/raw", "plain", "--json").stdout)
    assert (doc["oid"], doc["size"], doc["files"]) == (plain["oid"], plain["size"], 7)
    assert yaml.safe_load(here.read("data.mlvc"))["import_url"] == yaml.safe_load(
        here.read("plain.mlvc"))["import_url"]
    shutil.rmtree(here.root / ".mlvc/cache")
    shutil.rmtree(ext / "raw/sub")  # (the URL moved on: pull takes the remote's copy)
    here.run("pull", "data")
    assert snapshot(here.root / "data") == snapshot(here.root / "plain")
    one = json.loads(here.run("import-url", "../ext/one.csv", "--to-remote", "--json").stdout)
    assert one["type"] == "file" and not (here.root / "one.csv").exists()

    # update --to-remote: what the URL holds now goes to the remote; pull brings it
    (ext / "one.csv").write_text("2\n")
    r = here.run("update", "one.csv", "--to-remote")
    assert "sent to the remote, not here" in r.stdout
    assert not (here.root / "one.csv").exists()
    here.run("pull", "one.csv")
    assert here.read("one.csv") == "2\n"
    assert here.run("update", "one.csv", "--to-remote").stdout.startswith(
        "one.csv: up to date")

    # a failed transfer records nothing
    (ext / "more").mkdir()
    (ext / "more/m.txt").write_text("m")
    from mlvc.remote.fs import LocalRemote

    def refused(self, local, oid, size):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LocalRemote, "_put", refused)
    r = here.run("import-url", "../ext/more", "--to-remote", code=1)
    assert "nothing recorded" in r.stderr and not (here.root / "more.mlvc").exists()
    assert "-r/--remote goes with --to-remote" in here.run("import-url", "../ext/more",
                                                          "-r", "store", code=2).stderr


def test_get_import_ls_and_the_api_read_the_remote_named_with_the_options_given(
        registry, here, tmp_path, monkeypatch):
    """--remote and --remote-config (as DVC's): the registry's data is on its remote
    'mirror' only; its default remote 'store' is empty. An import records them (never a
    secret), so a clone's pull reads the source the same way."""
    import mlvc.api

    registry.run("remote", "add", "mirror", str(tmp_path / "mirror"))
    registry.run("push", "-r", "mirror")
    registry.commit_all("a mirror")
    shutil.rmtree(tmp_path / "store")
    shutil.rmtree(registry.root / ".mlvc/cache")
    url = f"file://{registry.root}"  # (its cache is not read: a clone's remotes are)
    r = here.run("get", url, "images", "-o", "a", code=1)
    assert "remote 'store'" in r.stderr and not (here.root / "a").exists()
    here.run("get", url, "images", "-o", "a", "--remote", "mirror")
    assert (here.root / "a/2.png").read_text() == "two"
    # options over the remote's own: the default remote's url, for this read
    here.run("get", url, "labels.csv", "--remote-config", "url=../mirror")  # (from here)
    assert here.read("labels.csv") == "a,1\n"
    r = here.run("get", url, "images", "-o", "b", "--remote", "nope", code=1)
    assert "has no remote named 'nope'" in r.stderr and "mirror, store" in r.stderr
    r = here.run("get", url, "images", "--remote-config", "url", code=2)
    assert "is not KEY=VALUE" in r.stderr
    doc = json.loads(here.run("ls", "--repo", url, "images", "--remote", "mirror",
                              "--json").stdout)  # (the folder's manifest, from the mirror)
    assert [e["path"] for e in doc["entries"]] == ["images/1.png", "images/2.png"]
    assert "go with --repo" in here.run("ls", "--remote", "mirror", code=2).stderr
    # --config FILE (DVC's): a config file's core.remote and that remote's options
    (tmp_path / "ci.yaml").write_text("core:\n  remote: mirror\nremotes:\n  mirror:\n"
                                      "    read_timeout: 60\n")
    here.run("get", url, "images", "-o", "c", "--config", str(tmp_path / "ci.yaml"))
    assert (here.root / "c/2.png").read_text() == "two"
    (tmp_path / "ci.ini").write_text(f"[core]\n    remote = store\n['remote \"store\"']\n"
                                     f"    url = {tmp_path / 'mirror'}\n")  # (DVC's form)
    doc = json.loads(here.run("ls", "--repo", url, "images", "--config",
                              str(tmp_path / "ci.ini"), "--json").stdout)
    assert [e["path"] for e in doc["entries"]] == ["images/1.png", "images/2.png"]
    (tmp_path / "bad.yaml").write_text("core:\n  jobs: 3\n")
    r = here.run("get", url, "images", "--config", str(tmp_path / "bad.yaml"), code=1)
    assert "core.jobs cannot apply to another project" in r.stderr
    monkeypatch.chdir(tmp_path)
    assert mlvc.api.read("images/1.png", repo=url, remote="mirror") == "one"
    assert mlvc.api.read("images/1.png", repo=url,
                         remote_config={"url": str(tmp_path / "mirror")}) == "one"
    # a project read in place: the options over its remote's own, in memory alone
    moved = tmp_path / "moved"
    registry.git("clone", "-q", str(registry.root), str(moved))  # (an empty cache)
    Project(moved).run("remote", "modify", "--local", "store", "url", str(tmp_path / "gone"))
    config = (moved / ".mlvc/config.local.yaml").read_text()
    with pytest.raises(Exception, match="store"):
        mlvc.api.read("images/1.png", repo=str(moved))
    assert mlvc.api.read("images/1.png", repo=str(moved),
                         remote_config={"url": str(tmp_path / "mirror")}) == "one"
    assert (moved / ".mlvc/config.local.yaml").read_text() == config  # (not written)
    with pytest.raises(Exception, match="no remote named 'nope'"):
        mlvc.api.read("images/1.png", repo=str(moved), remote="nope",
                      remote_config={"url": "x"})

    # import: recorded; a secret is refused, nothing written
    before = here.snapshot()
    r = here.run("import", url, "images", "--remote", "mirror", "--remote-config",
                 "secret_access_key=x", code=1)
    assert "is a secret" in r.stderr and here.snapshot() == before
    (tmp_path / "secret.yaml").write_text("remotes:\n  mirror:\n    secret_access_key: x\n")
    r = here.run("import", url, "images", "--config", str(tmp_path / "secret.yaml"), code=1)
    assert "is a secret" in r.stderr and here.snapshot() == before
    here.run("import", url, "images", "--config", str(tmp_path / "ci.yaml"))
    src = yaml.safe_load(here.read("images.mlvc"))["import"]
    assert (src["remote"], src["remote_config"]) == ("mirror", {"read_timeout": "60"})
    (here.root / "sub").mkdir()  # (a url option typed from a folder: kept from the top)
    here.run("import", url, "labels.csv", "--remote-config", "url=../../mirror",
             cwd=here.root / "sub")
    src = yaml.safe_load(here.read("sub/labels.csv.mlvc"))["import"]
    assert src["remote_config"] == {"url": "../mirror"}
    here.commit_all("imported through the mirror")
    clone = tmp_path / "clone"
    here.git("clone", "-q", str(here.root), str(clone))
    shutil.rmtree(here.root / ".mlvc/cache")
    Project(clone).run("pull")  # (from the source, through its mirror)
    assert (clone / "images/1.png").read_text() == "one"
    assert (clone / "sub/labels.csv").read_text() == "a,1\n"
    registry.gen({"images": {"3.png": "three"}})
    registry.run("add", "images")
    registry.commit_all("v2")
    registry.run("push", "-r", "mirror")
    Project(clone).run("update", "images")  # (the same way)
    assert (clone / "images/3.png").read_text() == "three"
    src2 = yaml.safe_load((clone / "images.mlvc").read_text())["import"]
    assert (src2["remote"], src2["remote_config"]) == ("mirror", {"read_timeout": "60"})


def test_update_r_brings_the_imports_within_folders_up_to_their_sources(registry, here):
    """As `dvc update -R DIR`; without -R a folder holding imports is told apart."""
    here.gen({"in": {"deep": {}}, "plain": {"x.txt": "x"}})
    here.run("import", "../registry", "images", "-o", "in/images")
    here.run("import", "../registry", "labels.csv", "-o", "in/deep/labels.csv")
    here.run("import", "../registry", "labels.csv", "-o", "other.csv")
    here.commit_all("imports")
    registry.gen({"images": {"1.png": "newer"}, "labels.csv": "b,2\n"})
    registry.run("add", "images", "labels.csv")
    registry.commit_all("v2")
    r = here.run("update", "in", code=1)
    assert "'in' is a folder of imported outputs" in r.stderr and "update -R in" in r.stderr
    doc = json.loads(here.run("update", "-R", "in", "--json").stdout)
    assert sorted((d["path"], d["changed"]) for d in doc) == [
        ("in/deep/labels.csv", True), ("in/images", True)]
    assert here.read("in/images/1.png") == "newer"
    assert here.read("in/deep/labels.csv") == "b,2\n" and here.read("other.csv") == "a,1\n"
    assert "holds none" in here.run("update", "-R", "plain", code=1).stderr
