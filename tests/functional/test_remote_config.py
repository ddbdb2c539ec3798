"""remote add/list/remove/default/modify, and credentials that are never printed."""

import json

import pytest
import yaml

from tests.conftest import snapshot


def config(project, name="config.yaml"):
    path = project.root / ".mlvc" / name
    return yaml.safe_load(path.read_text()) if path.exists() else None


def test_add_list_default_remove(project):
    sub = project.root / "src"
    sub.mkdir()
    project.run("remote", "add", "-d", "store", "../../store", cwd=sub)
    # Given from src/, stored relative to the project root.
    assert config(project)["remotes"]["store"]["url"] == "../store"
    assert config(project)["core"]["remote"] == "store"
    project.run("remote", "add", "s3r", "s3://bucket/prefix")
    doc = json.loads(project.run("remote", "list", "--json").stdout)
    assert [(r["name"], r["url"], r["default"]) for r in doc] == [
        ("s3r", "s3://bucket/prefix", False), ("store", "../store", True)]
    assert project.run("remote", "default").stdout.strip() == "store"
    assert project.run("remote", "default", "s3r").stdout == "The default remote is now 's3r'.\n"
    assert project.run("remote", "default").stdout.strip() == "s3r"
    assert project.run("-q", "remote", "default", "s3r").stdout == ""
    assert project.run("remote", "default", "--unset").stdout == "No default remote now.\n"
    assert "remote" not in config(project).get("core", {})
    project.run("remote", "default", "s3r")

    r = project.run("remote", "add", "s3r", "s3://other", code=1)
    assert "exists already" in r.stderr and "hint:" in r.stderr
    project.run("remote", "add", "-f", "s3r", "s3://other")
    assert config(project)["remotes"]["s3r"] == {"url": "s3://other"}

    project.run("remote", "remove", "s3r")
    assert "s3r" not in config(project)["remotes"]
    assert "remote" not in config(project).get("core", {})  # it was the default
    assert project.run("remote", "default", code=1).stderr.startswith("error: no default")
    r = project.run("remote", "remove", "nope", code=1)
    assert "no remote named 'nope'" in r.stderr


def test_config_writes_credentials_to_the_local_file(project):
    project.run("remote", "add", "s3r", "s3://bucket/prefix")
    r = project.run("config", "remotes.s3r.secret_access_key", "TOPSECRET")
    assert "config.local.yaml" in r.stdout and "TOPSECRET" not in r.output
    assert config(project, "config.local.yaml")["remotes"]["s3r"] == {
        "secret_access_key": "TOPSECRET"}
    assert "TOPSECRET" not in project.read(".mlvc/config.yaml")
    doc = json.loads(project.run("config", "--json", "remotes.s3r.region", "eu").stdout)
    assert doc == {"key": "remotes.s3r.region", "value": "eu", "level": "project"}
    # --unset finds the file that has the key.
    doc = json.loads(project.run("config", "--json", "--unset",
                                 "remotes.s3r.secret_access_key").stdout)
    assert doc["level"] == "local"
    project.run("config", "--project", "remotes.s3r.password", "pw")
    assert config(project)["remotes"]["s3r"]["password"] == "pw"
    project.run("config", "--unset", "remotes.s3r.password")
    assert "password" not in config(project)["remotes"]["s3r"]
    r = project.run("config", "--unset", "remotes.s3r.password", code=1)
    assert "not set in the local or project config" in r.stderr


def test_an_option_of_a_remote_with_no_url_is_written_with_a_warning(project):
    """Credentials may come before the url, but a misspelt remote name should not wait
    for the first push to show."""
    project.run("remote", "add", "store", "s3://bucket/prefix")
    r = project.run("config", "remotes.stroe.secret_access_key", "TOPSECRET")
    assert ("warning: remote 'stroe' has no url yet (remotes with one: store): add it with "
            "`mlvc remote add stroe URL`, or check the name") in r.stderr
    assert "TOPSECRET" not in r.output
    assert config(project, "config.local.yaml")["remotes"]["stroe"] == {
        "secret_access_key": "TOPSECRET"}
    r = project.run("config", "remotes.stroe.url", "s3://b2")  # the url itself: no warning
    assert "warning" not in r.stderr
    r = project.run("config", "remotes.stroe.region", "eu")  # it has one now
    assert "warning" not in r.stderr
    r = project.run("config", "remotes.store.region", "eu")
    assert "warning" not in r.stderr


def test_a_default_remote_with_no_url_is_written_with_a_warning(project):
    """`mlvc remote default stroe` refuses a misspelt name; `mlvc config core.remote stroe`
    wrote it silently, and the first push failed."""
    project.run("remote", "add", "store", "s3://bucket/prefix")
    r = project.run("config", "core.remote", "stroe")
    assert ("warning: no remote named 'stroe' yet (remotes: store): push and pull will fail "
            "until `mlvc remote add stroe URL` adds it; or check the name") in r.stderr
    assert config(project, "config.yaml")["core"]["remote"] == "stroe"
    r = project.run("config", "core.remote", "store")
    assert "warning" not in r.stderr
    r = project.run("config", "--global", "core.remote", "elsewhere")  # (per project)
    assert "warning" not in r.stderr


def test_remote_commands_report_json(project):
    doc = json.loads(project.run("remote", "add", "-d", "--json", "s3r", "s3://b/p").stdout)
    assert doc == {"name": "s3r", "url": "s3://b/p", "default": True, "options": {}}
    assert json.loads(project.run("remote", "default", "--json").stdout) == {"default": "s3r"}
    doc = json.loads(project.run("remote", "modify", "--json", "s3r", "secret_access_key",
                                 "TOPSECRET").stdout)
    assert doc == {"remote": "s3r", "key": "secret_access_key", "value": "***",
                   "file": ".mlvc/config.local.yaml"}
    project.run("remote", "modify", "s3r", "region", "eu-west-1")
    doc = json.loads(project.run("remote", "modify", "--json", "s3r", "region",
                                 "--unset").stdout)
    assert doc["value"] is None and doc["file"] == ".mlvc/config.yaml"
    assert json.loads(project.run("remote", "remove", "--json", "s3r").stdout) == {
        "removed": "s3r"}
    # No default is not an error for a script: it is null.
    assert json.loads(project.run("remote", "default", "--json").stdout) == {"default": None}


def test_credentials_go_to_the_local_file_and_are_never_printed(project):
    project.run("remote", "add", "-d", "s3r", "s3://bucket/prefix")
    out = project.run("remote", "modify", "s3r", "secret_access_key", "TOPSECRET").stdout
    assert "config.local.yaml" in out and "TOPSECRET" not in out
    project.run("remote", "modify", "s3r", "access_key_id", "AKIAEXAMPLE")
    project.run("remote", "modify", "s3r", "endpoint_url", "http://127.0.0.1:9000")
    assert config(project, "config.local.yaml")["remotes"]["s3r"] == {
        "secret_access_key": "TOPSECRET", "access_key_id": "AKIAEXAMPLE"}
    assert config(project)["remotes"]["s3r"]["endpoint_url"] == "http://127.0.0.1:9000"
    assert ".mlvc/config.local.yaml" not in project.git("status", "--porcelain", "--ignored=no")

    for args in (["remote", "list"], ["remote", "list", "--json"], ["config", "--list"],
                 ["config", "--list", "--show-origin"], ["config", "--list", "--json"],
                 ["config", "remotes.s3r.secret_access_key"], ["doctor"], ["doctor", "--json"]):
        r = project.run(*args)
        assert "TOPSECRET" not in r.output and "AKIAEXAMPLE" not in r.output, args
    assert "secret_access_key=***" in project.run("remote", "list").stdout

    project.run("remote", "modify", "s3r", "secret_access_key", "--unset")
    assert "secret_access_key" not in config(project, "config.local.yaml")["remotes"]["s3r"]


def test_modify_unknown_remote_and_bad_names(project):
    r = project.run("remote", "modify", "ghost", "region", "x", code=1)
    assert "no remote named 'ghost'" in r.stderr
    r = project.run("remote", "add", "bad.name", "/tmp/x", code=1)
    assert "not a valid remote name" in r.stderr
    assert not (config(project) or {}).get("remotes")


def test_push_without_a_remote_explains(project):
    project.gen({"f.txt": "x"})
    project.run("add", "f.txt")
    r = project.run("push", code=1)
    assert r.stderr.startswith("error: no remote given and no default remote is set")
    assert "mlvc remote add -d" in r.stderr
    r = project.run("push", "-r", "nope", code=1)
    assert "no remote named 'nope'" in r.stderr
    project.run("remote", "add", "store", str(project.root.parent / "store"))  # not default
    r = project.run("push", code=1)
    assert "hint: make one the default with `mlvc remote default store`" in r.stderr


@pytest.mark.parametrize("url, shown", [("data/store", "data/store"), (".", "its top folder"),
                                        (".mlvc/cache/r", ".mlvc/cache/r")])
def test_a_folder_remote_inside_the_project_is_refused(project, tmp_path, url, shown):
    """A remote inside a tracked folder showed as added files there, and a checkout --force
    (or commit) of that folder would have taken or deleted the remote's objects."""
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    before = (project.root / ".mlvc/config.yaml").read_text()
    message = f"is a folder inside the project ({shown})"
    for args in (["remote", "add", "-d", "r", url],
                 ["config", "remotes.r.url", url]):
        r = project.run(*args, code=1)
        assert message in r.stderr and "hint: keep the remote in a folder outside" in r.stderr
    project.run("remote", "add", "-d", "r", "../store")
    r = project.run("remote", "modify", "r", "url", url, code=1)
    assert message in r.stderr
    assert config(project)["remotes"]["r"]["url"] == "../store"

    # Written by hand (or merged from git): every transfer refuses it, and writes nothing.
    (project.root / ".mlvc/config.yaml").write_text(
        before + f"remotes:\n  r:\n    url: {url}\ncore:\n  remote: r\n")
    state = snapshot(project.root / "data")
    for args in (["push"], ["fetch"], ["pull"], ["status", "-c"]):
        r = project.run(*args, code=1)
        assert f"error: remote 'r' ({url}) {message}" in r.stderr, args
    assert snapshot(project.root / "data") == state
    assert not (project.root / "data/store").exists()


def test_a_folder_remote_inside_an_outside_cache_is_refused(project, tmp_path):
    project.run("config", "cache.dir", str(tmp_path / "cache"))
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    message = f"is a folder inside the cache ({tmp_path / 'cache'})"
    r = project.run("remote", "add", "-d", "r", str(tmp_path / "cache/remote"), code=1)
    assert message in r.stderr
    assert "remotes" not in (config(project) or {})
    project.run("remote", "add", "-d", "r", str(tmp_path / "store"))
    project.run("push")
    # Written by hand: transfers refuse it.
    path = project.root / ".mlvc/config.yaml"
    path.write_text(path.read_text().replace(str(tmp_path / "store"),
                                             str(tmp_path / "cache/remote")))
    for args in (["push"], ["fetch"], ["status", "-c"]):
        assert message in project.run(*args, code=1).stderr
    assert not (tmp_path / "cache/remote").exists()


def test_rename_moves_options_credentials_and_the_default(project):
    project.run("remote", "add", "-d", "store", "s3://b/p")
    project.run("remote", "modify", "store", "region", "eu-west-1")
    project.run("remote", "modify", "store", "secret_access_key", "s3cr3t")  # (local file)
    project.run("remote", "add", "other", "/tmp/other")
    r = project.run("remote", "rename", "store", "main")
    assert r.stdout == "Renamed remote 'store' to 'main'.\n"
    assert config(project)["remotes"] == {"main": {"url": "s3://b/p", "region": "eu-west-1"},
                                          "other": {"url": "/tmp/other"}}
    assert config(project)["core"]["remote"] == "main"
    assert config(project, "config.local.yaml")["remotes"] == {
        "main": {"secret_access_key": "s3cr3t"}}
    r = project.run("remote", "rename", "main", "other", code=1)
    assert "remote 'other' exists already" in r.stderr
    r = project.run("remote", "rename", "nope", "x", code=1)
    assert "no remote named 'nope'" in r.stderr
    r = project.run("remote", "rename", "main", "a.b", code=1)
    assert "not a valid remote name" in r.stderr


def test_global_and_system_remotes_serve_every_project(project, tmp_path):
    """DVC's --global and --system on the remote and config commands: the user's and the
    machine's files, writable outside a project, under the project's own files."""
    import os
    from pathlib import Path

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    project.run("remote", "add", "--system", "-d", "shared", "store", cwd=outside)
    project.run("remote", "add", "--global", "mine", "s3://mine/x", cwd=outside)
    sys_file = Path(os.environ["XDG_CONFIG_DIRS"], "mlvc", "config.yaml")  # (conftest's)
    doc = yaml.safe_load(sys_file.read_text())
    assert doc["remotes"]["shared"]["url"] == str(outside / "store")  # (absolute there)
    assert doc["core"]["remote"] == "shared"
    listed = json.loads(project.run("remote", "list", "--json").stdout)
    assert [(r["name"], r["default"]) for r in listed] == [("mine", False), ("shared", True)]
    listed = json.loads(project.run("remote", "list", "--system", "--json").stdout)
    assert [r["name"] for r in listed] == ["shared"]
    # the project's own settings win over the user's, which win over the machine's
    project.run("remote", "modify", "--global", "shared", "url", str(tmp_path / "g"))
    r = project.run("config", "remotes.shared.url", "--show-origin")
    assert r.stdout == f"global\t{tmp_path / 'g'}\n"
    project.run("config", "--system", "core.jobs", "3")
    project.run("config", "--global", "core.jobs", "5")
    assert project.run("config", "core.jobs", "--show-origin").stdout == "global\t5\n"
    assert project.run("config", "--system", "core.jobs").stdout == "3\n"
    project.run("remote", "default", "--project", "mine")
    assert project.run("remote", "default").stdout == "mine\n"
    # remove and rename touch the project's files unless told which
    r = project.run("remote", "remove", "shared", code=1)
    assert "no remote named 'shared' in this project" in r.stderr and "--system" in r.stderr
    project.run("remote", "rename", "--global", "mine", "yours")
    assert "yours" in project.run("remote", "list", "--global").stdout
    project.run("remote", "remove", "--system", "shared")
    project.run("remote", "modify", "--global", "shared", "url", "--unset")
    names = [r["name"] for r in json.loads(project.run("remote", "list", "--json").stdout)]
    assert names == ["yours"]
    left = yaml.safe_load(sys_file.read_text())  # (its default went with it)
    assert left == {"core": {"jobs": 3}}
