import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc import config as cfg
from mlvc.errors import ConfigError, FormatError


def files(tmp_path):
    return cfg.ConfigFiles(tmp_path / "p.yaml", tmp_path / "l.yaml", tmp_path / "g.yaml")


def test_precedence_global_project_local(tmp_path):
    f = files(tmp_path)
    cfg.set_value(f.global_, "global", "core.jobs", "2")
    cfg.set_value(f.project, "project", "core.jobs", "4")
    cfg.set_value(f.global_, "global", "core.remote", "g")
    merged = cfg.Config.load(f)
    assert merged.get("core.jobs") == 4 and merged.origins["core.jobs"] == "project"
    cfg.set_value(f.local, "local", "core.jobs", "8")
    merged = cfg.Config.load(f)
    assert merged.get("core.jobs") == 8 and merged.get("core.remote") == "g"


def test_link_types_are_validated(tmp_path):
    f = files(tmp_path)
    assert cfg.set_value(f.project, "project", "cache.type", "hardlink, copy") == [
        "hardlink", "copy"]
    with pytest.raises(ConfigError, match="unknown link type"):
        cfg.set_value(f.project, "project", "cache.type", "hardlink,teleport")
    # As config.yaml shows a list (YAML's flow form), and in a list, it means the same.
    assert cfg.set_value(f.project, "project", "cache.type", " [symlink, copy] ") == [
        "symlink", "copy"]
    for empty in ("", "[]", " [ ] "):
        with pytest.raises(ConfigError, match="must be a list of link types"):
            cfg.set_value(f.project, "project", "cache.type", empty)


def test_unknown_key_and_bad_values(tmp_path):
    f = files(tmp_path)
    with pytest.raises(ConfigError, match="unknown config key"):
        cfg.set_value(f.project, "project", "core.nope", "1")
    with pytest.raises(ConfigError, match="whole number"):
        cfg.set_value(f.project, "project", "core.jobs", "many")


def test_malformed_file_names_file_and_line(tmp_path):
    f = files(tmp_path)
    f.project.write_text("core:\n  jobs: [1\n")
    with pytest.raises(FormatError, match=r"\.mlvc/config.yaml:\d+: invalid YAML"):
        cfg.Config.load(f)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                       st.text(max_size=20), max_size=4),
       st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
def test_remote_options_round_trip(tmp_path_factory, options, remote):
    path = tmp_path_factory.mktemp("c") / "config.yaml"
    for key, value in options.items():
        cfg.set_value(path, "project", f"remotes.{remote}.{key}", value)
    loaded = cfg.read_file(path, "config.yaml")
    assert {k.split(".", 2)[2]: v for k, v in loaded.items()} == options


def test_secrets_are_masked():
    assert cfg.shown("remotes.s3.secret_access_key", "abc") == "***"
    assert cfg.shown("remotes.s3.url", "s3://b") == "s3://b"
