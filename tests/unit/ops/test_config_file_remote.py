"""``config_file_remote``: DVC's ``--config FILE`` of get/import/list, as a remote and its
options."""

import pytest

from mlvc.errors import TargetError
from mlvc.ops.get import config_file_remote
from mlvc.workspace.pointer import SourceRemote


def test_mlvc_and_dvc_files_give_the_remote_and_its_options_under_the_command_lines(tmp_path):
    mine = tmp_path / "c.yaml"
    mine.write_text("core:\n  remote: a\nremotes:\n  a:\n    region: x\n    profile: p\n"
                    "  b:\n    region: y\n")
    assert config_file_remote(mine) == SourceRemote("a", (("profile", "p"), ("region", "x")))
    # --remote chooses another; --remote-config wins over the file
    assert config_file_remote(mine, SourceRemote("b", (("region", "z"),))) == \
        SourceRemote("b", (("region", "z"),))
    dvc = tmp_path / "config"
    dvc.write_text("[core]\n    remote = s3r\n['remote \"s3r\"']\n    url = s3://b/p\n"
                   "    endpointurl = http://minio\n")
    assert config_file_remote(dvc) == SourceRemote(
        "s3r", (("endpointurl", "http://minio"), ("url", "s3://b/p")))
    one = tmp_path / "one.yaml"
    one.write_text("remotes:\n  only:\n    profile: q\n")  # (one remote: that one)
    assert config_file_remote(one) == SourceRemote("only", (("profile", "q"),))


@pytest.mark.parametrize("text,told", [
    ("remotes:\n  a:\n    x: 1\n  b:\n    x: 2\n", "several remotes (a, b) and no core.remote"),
    ("cache:\n  dir: /x\n", "cache.dir cannot apply to another project"),
    ("[core]\nremote = a\n[cache]\ntype = copy\n", "cache.type cannot apply"),
    ("- a\n", "not a mapping of settings"),
])
def test_what_cannot_apply_to_another_project_is_refused(tmp_path, text, told):
    path = tmp_path / "f"
    path.write_text(text)
    with pytest.raises(TargetError, match=told.replace("(", r"\(").replace(")", r"\)")):
        config_file_remote(path)
    with pytest.raises(TargetError, match="cannot be read"):
        config_file_remote(tmp_path / "missing")
