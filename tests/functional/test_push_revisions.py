"""push/fetch -T and -A read pointer files from git revisions without checking them out."""

import json

from mlvc.objects.store import ObjectStore


def cache_oids(project):
    return set(ObjectStore(project.root / ".mlvc" / "cache").iter_oids())


def remote_oids(path):
    return set(ObjectStore(path).iter_oids())


def test_tags_and_all_commits(project, tmp_path):
    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    versions = []
    for n in range(3):
        project.gen({"model.bin": f"weights v{n}"})
        project.run("add", "model.bin")
        project.commit_all(f"v{n}")
        versions.append(cache_oids(project))
        if n == 0:
            project.git("tag", "-a", "v0", "-m", "annotated tag")
    every = set().union(*versions)
    assert len(every) == 3

    project.run("push")  # the workspace: v2's model only
    assert remote_oids(remote) == versions[2] - versions[1]
    doc = json.loads(project.run("push", "-T", "--json").stdout)
    assert doc["transferred"] == 1  # v0's model, through the annotated tag
    doc = json.loads(project.run("push", "-A", "--json").stdout)
    assert doc["transferred"] == 1  # v1's model: only an untagged commit has it
    assert remote_oids(remote) == every


def test_broken_pointer_in_history_is_a_warning_not_a_stop(project, tmp_path):
    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"broken.mlvc": "schema: 1\nouts: [oops\n"}, commit="a broken pointer")
    (project.root / "broken.mlvc").unlink()
    project.gen({"good.txt": "fine"})
    project.run("add", "good.txt")
    project.commit_all("fix")
    r = project.run("push", "-A")
    assert "warning:" in r.stderr and "broken.mlvc" in r.stderr
    assert "Pushed 1 object," in r.stdout
    r = project.run("push", "-A")
    assert "Remote 'store' has the 1 object already: nothing to transfer." in r.stdout


def test_push_trusts_manifests_validated_before(project, tmp_path, monkeypatch):
    """Every level of a folder's manifests is looked up in the state DB: a manifest that
    passed validation once only has its hash checked on the next push."""
    from mlvc.objects.tree import Tree

    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"data": {"a": "1", "sub": {"b": "2", "deeper": {"c": "3"}}}})
    project.run("add", "data")
    parsed = []
    real = Tree.from_bytes.__func__
    monkeypatch.setattr(Tree, "from_bytes",
                        classmethod(lambda cls, data, oid="?": parsed.append(oid)
                                    or real(cls, data, oid)))
    project.run("push")
    assert parsed == []
    assert len(remote_oids(tmp_path / "remote")) == 6  # 3 files, 3 manifests


def test_pushing_several_parts_of_one_folder_sends_each(project, tmp_path):
    """`mlvc push data/a data/sub/s` sends both files (the last part alone was sent), and
    not the rest of the folder."""
    from mlvc.objects.oid import hash_bytes

    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"data": {"a": "A", "sub": {"s": "S"}, "other": {"o": "O"}}})
    project.run("add", "data")
    project.run("push", "data/a", "data/sub/s")
    sent = remote_oids(remote)
    assert {hash_bytes(b"A"), hash_bytes(b"S")} <= sent
    assert hash_bytes(b"O") not in sent
