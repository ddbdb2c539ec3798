"""The remote contract, run against every remote kind: memory://, a local folder, and a real
S3 server on loopback (moto_server, with s3fs talking HTTP to it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from mlvc.objects.oid import hash_bytes, hash_file
from mlvc.objects.store import ObjectStore
from mlvc.remote.fs import SMALL
from mlvc.remote.packs import decode_index, encode_index
from tests.conftest import Project
from tests.helpers.servers import DroppingProxy, moto_server

pytestmark = pytest.mark.integration

DATA = {"data": {"a.csv": "x,y\n1,2\n", "sub": {"b.txt": "bee", "c.bin": bytes(range(256)) * 40},
                 "empty": {}},
        "model.pkl": b"\x00weights" * 1000}


@pytest.fixture(scope="session")
def s3_endpoint():
    with moto_server() as url:
        yield url


def _s3fs(endpoint: str):
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing",
                             skip_instance_cache=True)


@dataclass
class RemoteSpec:
    kind: str
    url: str
    fs: object
    root: str
    options: dict[str, str] = field(default_factory=dict)

    def configure(self, project: Project, name: str = "store") -> None:
        """Add the remote as the default; credentials go to the (git-ignored) local config."""
        if not project.run("remote", "list", "--json").stdout.count(f'"{name}"'):
            project.run("remote", "add", "-d", name, self.url)
        for key, value in self.options.items():
            project.run("remote", "modify", name, key, value)

    def object_path(self, oid: str) -> str:
        return f"{self.root}/objects/{oid[:2]}/{oid[2:]}"

    def packs(self) -> dict[str, tuple[str, int, int]]:
        """``{oid: (pack id, offset, size)}`` of the objects in packs, read by hand."""
        self.fs.invalidate_cache()
        try:
            names = self.fs.ls(f"{self.root}/packs", detail=False)
        except FileNotFoundError:
            return {}
        found = {}
        for name in names:
            name = str(name).rstrip("/").rsplit("/", 1)[-1]
            if name.endswith(".idx"):
                entries, _ = decode_index(self.fs.cat_file(f"{self.root}/packs/{name}"), name)
                found.update({o: (name[:-4], off, size) for o, (off, size) in entries.items()})
        return found

    def corrupt(self, oid: str) -> None:
        packed = self.packs()
        if oid in packed:  # (the same number of other bytes, in place)
            pack, offset, size = packed[oid]
            path = f"{self.root}/packs/{pack}.pack"
            data = bytearray(self.fs.cat_file(path))
            data[offset:offset + size] = bytes(b ^ 0x5A for b in data[offset:offset + size])
            self.fs.rm_file(path)
            self.fs.pipe_file(path, bytes(data))
            return
        path = self.object_path(oid)
        self.fs.rm_file(path)
        self.fs.pipe_file(path, b"these are not the bytes you are looking for")

    def delete(self, oid: str) -> None:
        packed = self.packs()
        if oid in packed:  # (its index written again without it)
            pack = packed[oid][0]
            path = f"{self.root}/packs/{pack}.idx"
            entries, size = decode_index(self.fs.cat_file(path), path)
            del entries[oid]
            self.fs.rm_file(path)
            self.fs.pipe_file(path, encode_index([(o, off, n) for o, (off, n)
                                                  in entries.items()], size))
            return
        self.fs.rm_file(self.object_path(oid))

    def has(self, oid: str) -> bool:
        self.fs.invalidate_cache()
        return self.fs.exists(self.object_path(oid)) or oid in self.packs()


@pytest.fixture(params=["memory", "local", "s3"])
def remote(request, tmp_path) -> RemoteSpec:
    kind = request.param
    if kind == "memory":
        import fsspec

        name = f"mlvc-test-{uuid.uuid4().hex}"
        return RemoteSpec(kind, f"memory://{name}", fsspec.filesystem("memory"), f"/{name}")
    if kind == "local":
        from fsspec.implementations.local import LocalFileSystem

        path = tmp_path / "remote-store"
        return RemoteSpec(kind, str(path), LocalFileSystem(), str(path))
    endpoint = request.getfixturevalue("s3_endpoint")
    fs = _s3fs(endpoint)
    bucket = f"b-{uuid.uuid4().hex[:20]}"
    fs.mkdir(bucket)
    return RemoteSpec(kind, f"s3://{bucket}/store", fs, f"{bucket}/store",
                      {"endpoint_url": endpoint, "access_key_id": "testing",
                       "secret_access_key": "testing", "region": "us-east-1"})


def clone(project: Project, where: Path, remote: RemoteSpec) -> Project:
    subprocess.run(["git", "clone", "-q", str(project.root), str(where)], check=True)
    other = Project(where)
    remote.configure(other)  # the clone has the url from git; credentials are per machine
    return other


def oids_of(project: Project) -> set[str]:
    return set(ObjectStore(project.root / ".mlvc" / "cache").iter_oids())


def tracked(project: Project, *prefixes: str) -> dict:
    """Files and folders of the tracked data (below ``prefixes``)."""
    snap = project.snapshot()
    return {k: v for k, v in snap.items() if k.startswith(prefixes or ("data", "model.pkl"))}


def _two_runs(project: Project) -> str:
    """A stage run with lr 1, then with lr 2 (committed): two run-cache records. Returns the
    first run's output; each run appends to runs.log, removed here."""
    project.gen({"params.yaml": "lr: 1\n", "mlvc.yaml": (
        "stages:\n  train:\n"
        "    cmd: (cat params.yaml; ls data) > model.out && echo run >> runs.log\n"
        "    deps: [data]\n    params: [lr]\n    outs: [model.out]\n")})
    project.run("repro")
    first = project.read("model.out")
    project.gen({"params.yaml": "lr: 2\n"})
    project.run("repro")
    (project.root / "runs.log").unlink()  # (each run logs; not for git)
    project.commit_all("lr 2")
    return first


@pytest.fixture
def pushed(project, remote) -> tuple[Project, RemoteSpec]:
    project.gen(DATA)
    project.run("add", "data", "model.pkl")
    project.commit_all("v1")
    remote.configure(project)
    project.commit_all("remote")
    return project, remote


def file_oids(spec: dict) -> set[str]:
    """The oids of the files of a many_files() spec."""
    return {hash_bytes(text.encode()) for folder in spec["data"].values()
            for text in folder.values()}


def many_files(n: int = 60, tag: str = "") -> dict:
    """``n`` small files in four folders: enough for a push to pack them."""
    data: dict = {}
    for i in range(n):
        data.setdefault(f"d{i % 4}", {})[f"f{i:03}.txt"] = f"{tag}file {i}\n" * (i % 7 + 1)
    return {"data": data}


@pytest.fixture
def packed(project, remote) -> tuple[Project, RemoteSpec]:
    project.gen(many_files())
    project.gen({"big.bin": os.urandom((1 << 20) + 1)})  # (over packs.PACK_OBJECT_MAX)
    project.run("add", "data", "big.bin")
    project.commit_all("v1")
    remote.configure(project)
    project.commit_all("remote")
    doc = json.loads(project.run("push", "--json").stdout)
    assert doc["failed"] == [] and doc["transferred"] == len(oids_of(project))
    return project, remote


class TestPacks:
    def test_small_objects_go_in_packs_large_ones_stay_loose_and_pull_reads_both(
            self, packed, tmp_path):
        project, remote = packed
        in_packs = remote.packs()
        big = hash_file(project.root / "big.bin")
        assert big not in in_packs and remote.fs.exists(remote.object_path(big))
        # The files; the five folders' manifests went loose (uploaded after their entries,
        # four and then one: too few to pack).
        assert set(in_packs) == file_oids(many_files())
        assert all(remote.fs.exists(remote.object_path(o))
                   for o in oids_of(project) - set(in_packs))
        assert not any(remote.fs.exists(remote.object_path(o)) for o in in_packs)
        again = json.loads(project.run("push", "--json").stdout)
        assert again["transferred"] == 0
        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("status", "-c", "--json").stdout)["clean"] is False
        r = other.run("pull", "--json")
        assert json.loads(r.stdout)["fetch"]["failed"] == []
        assert tracked(other, "data", "big.bin") == tracked(project, "data", "big.bin")
        assert oids_of(other) == oids_of(project)
        assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]

    def test_manifests_in_packs_are_fetched_in_a_few_reads(self, project, remote, tmp_path,
                                                           monkeypatch):
        from mlvc.remote.fs import LocalRemote, Remote

        project.gen({"data": {f"d{i:02}": {"f.txt": f"{i}\n", "g.txt": f"g {i}\n"}
                              for i in range(20)}})
        project.run("add", "data")
        project.commit_all("v1")
        remote.configure(project)
        project.commit_all("remote")
        project.run("push")
        trees = oids_of(project) - {hash_bytes(f"{i}\n".encode()) for i in range(20)} \
            - {hash_bytes(f"g {i}\n".encode()) for i in range(20)}
        assert len(trees) == 21 and len(trees & set(remote.packs())) == 20  # (data/ loose)
        one_by_one = []
        for kind in (Remote, LocalRemote):
            def counted(self, oid, *args, real=kind.read_object):
                one_by_one.append(oid)
                return real(self, oid, *args)
            monkeypatch.setattr(kind, "read_object", counted)
        other = clone(project, tmp_path / "clone", remote)
        other.run("pull")
        assert tracked(other, "data") == tracked(project, "data")
        assert len(one_by_one) == 1  # (the loose top manifest; the 20 in one pack read)

    def test_the_index_of_a_pack_a_push_wrote_is_never_downloaded(self, packed,
                                                                   monkeypatch):
        project, remote = packed
        if remote.kind == "s3":
            pytest.skip("s3fs makes its sync methods per instance: counted on local, memory")
        read = []
        real = type(remote.fs).cat_file

        def counted(self, path, *args, **kwargs):
            read.append(str(path))
            return real(self, path, *args, **kwargs)

        monkeypatch.setattr(type(remote.fs), "cat_file", counted)
        project.gen({"data": {"d0": {f"more{i}.txt": f"more {i}\n" for i in range(20)}}})
        project.run("add", "data")
        project.run("push")  # (a pack; then the listing of the merge check)
        project.run("status", "-c")
        assert not [p for p in read if p.endswith(".idx")]
        monkeypatch.undo()
        assert len({p for p, _, _ in remote.packs().values()}) == 2

    def test_a_pack_without_its_index_does_not_exist(self, packed):
        project, remote = packed
        for name in remote.fs.ls(f"{remote.root}/packs", detail=False):
            if str(name).endswith(".idx"):
                remote.fs.rm_file(name)  # (as if push was killed between pack and index)
        assert not json.loads(project.run("status", "-c", "--json").stdout)["clean"]
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["transferred"] == len(remote.packs()) > 0
        assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]

    def test_a_damaged_index_is_ignored_and_its_objects_sent_again(self, packed):
        project, remote = packed
        (name,) = [n for n in remote.fs.ls(f"{remote.root}/packs", detail=False)
                   if str(n).endswith(".idx")]
        data = remote.fs.cat_file(name)
        remote.fs.rm_file(name)
        remote.fs.pipe_file(name, data[:-5])  # (cut short)
        shutil.rmtree(project.root / ".mlvc" / "tmp" / "remotes")  # (what this clone knew)
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["transferred"] == 60  # (the packed files; loose objects are there)
        (warning,) = doc["warnings"]
        assert "not a valid pack index: its checksum does not match" in warning
        assert set(remote.packs()) == file_oids(many_files())

    def test_a_corrupt_object_in_a_pack_is_refused_on_pull_and_set_aside_by_verify(
            self, packed, tmp_path):
        project, remote = packed
        store = ObjectStore(project.root / ".mlvc" / "cache")
        victim = next(o for o in store.iter_oids() if store.read_bytes(o) == b"file 5\n" * 6)
        remote.corrupt(victim)
        other = clone(project, tmp_path / "clone", remote)
        r = other.run("pull", "--json", code=1)
        assert [(f["oid"], f["reason"]) for f in json.loads(r.stdout)["fetch"]["failed"]] == [
            (victim, "corrupt on the remote (not stored)")]
        assert victim not in oids_of(other)
        r = project.run("verify", "-r", "store", "--json", code=1)
        assert json.loads(r.stdout)["corrupt"] == [victim]
        assert remote.fs.exists(f"{remote.root}/corrupt/{victim}")
        assert victim not in remote.packs() and len(remote.packs()) == 59
        project.run("push")  # (the remote lacks it now: sent again, sound)
        other.run("pull")
        assert victim in oids_of(other)

    def test_gc_rewrites_a_pack_keeping_what_stays_and_drops_an_empty_one(self, packed):
        project, remote = packed
        (first,) = {p for p, _, _ in remote.packs().values()}
        project.gen({"data": {"d0": {f"f{i:03}.txt": f"changed {i}\n" for i in range(0, 40, 4)}}})
        project.run("commit")
        project.commit_all("v2")
        project.run("push")  # (ten new files: loose)
        project.run("gc", "-w", "-c", "-f")
        kept = oids_of(project)
        assert all(remote.has(o) for o in kept)
        assert set(remote.packs()) == kept & file_oids(many_files())  # (50 of the 60)
        assert len(remote.packs()) == 50
        (second,) = {p for p, _, _ in remote.packs().values()}
        assert second != first and not remote.fs.exists(f"{remote.root}/packs/{first}.pack")

        project.gen(many_files(tag="v3 "))
        project.run("commit")
        project.commit_all("v3")
        project.run("push")
        project.run("gc", "-w", "-c", "-f")
        assert set(remote.packs()) == file_oids(many_files(tag="v3 "))
        names = sorted(str(n).rsplit("/", 1)[-1]
                       for n in remote.fs.ls(f"{remote.root}/packs", detail=False))
        (third,) = {p for p, _, _ in remote.packs().values()}
        assert names == [f"{third}.idx", f"{third}.pack"]  # (the second pack went whole)
        other = clone(project, project.root.parent / "clone", remote)
        other.run("pull")
        assert tracked(other, "data") == tracked(project, "data")

    def test_gc_merges_small_packs_and_every_object_stays_readable(self, packed, tmp_path):
        project, remote = packed
        wanted = set(oids_of(project))
        for n in range(1, 5):  # four more pushes of twenty new small files: five packs
            project.gen({"data": {"d0": {f"new{n}-{i}.txt": f"push {n} file {i}\n"
                                         for i in range(20)}}})
            project.run("add", "data")
            project.commit_all(f"v{n + 1}")
            project.run("push")
            wanted |= oids_of(project)
        before = remote.packs()
        assert len({p for p, _, _ in before.values()}) == 5
        doc = json.loads(project.run("gc", "-A", "-c", "-f", "--json").stdout)
        assert doc["remote_removed"] == [] and (doc["packs_merged"], doc["packs_written"]) == (5, 1)
        after = remote.packs()
        assert set(after) == set(before) and len({p for p, _, _ in after.values()}) == 1
        names = [str(n) for n in remote.fs.ls(f"{remote.root}/packs", detail=False)]
        assert len(names) == 2  # (one pack and its index: the old ones are gone)
        # A new clone reads every revision's data from the merged pack.
        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("fetch", "-A", "--json").stdout)["failed"] == []
        assert wanted <= oids_of(other)
        other.run("checkout")
        assert tracked(other, "data") == tracked(project, "data")
        # Fewer small packs than packs.REPACK_MIN: left as they are.
        assert json.loads(project.run("gc", "-A", "-c", "-f", "--json").stdout)[
            "packs_merged"] == 0

    def test_a_push_merges_the_small_packs_once_there_are_enough(self, packed, tmp_path,
                                                                  monkeypatch):
        from mlvc.remote import packs

        monkeypatch.setattr(packs, "REPACK_AUTO", 3)
        project, remote = packed
        wanted = set(oids_of(project))
        counts = []
        for n in range(1, 3):  # two more pushes of twenty small files: three packs, merged
            project.gen({"data": {"d0": {f"new{n}-{i}.txt": f"push {n} file {i}\n"
                                         for i in range(20)}}})
            project.run("add", "data")
            project.commit_all(f"v{n + 1}")
            assert json.loads(project.run("push", "--json").stdout)["failed"] == []
            wanted |= oids_of(project)
            counts.append(len({p for p, _, _ in remote.packs().values()}))
        assert counts == [2, 1]  # (the third pack made three small ones: merged into one)
        project.run("push")  # (nothing to send: no pack written, nothing merged)
        assert len({p for p, _, _ in remote.packs().values()}) == 1
        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("fetch", "-A", "--json").stdout)["failed"] == []
        assert wanted <= oids_of(other)

    def test_add_and_import_url_to_remote_merge_the_small_packs_as_a_push_does(
            self, packed, tmp_path, monkeypatch):
        from mlvc.remote import packs

        monkeypatch.setattr(packs, "REPACK_AUTO", 2)
        project, remote = packed
        assert len({p for p, _, _ in remote.packs().values()}) == 1
        counts = []
        for n, how in enumerate((["add", "--to-remote", "-o", "a"],
                                 ["import-url", "--to-remote"])):
            ext = tmp_path / f"mnt{n}"
            ext.mkdir()
            for i in range(20):  # (one small pack each)
                (ext / f"f{i:02}.txt").write_text(f"outside {n} file {i}\n")
            args = [how[0], str(ext), *how[1:]] + ([] if n == 0 else [f"u{n}"])
            assert json.loads(project.run(*args, "--json").stdout)
            counts.append(len({p for p, _, _ in remote.packs().values()}))
        assert counts == [1, 1]  # (each made two small packs: merged into one)
        project.commit_all("outside data")
        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("pull", "--json").stdout)["fetch"]["failed"] == []
        assert (other.root / "u1/f19.txt").read_text() == "outside 1 file 19\n"
        assert (other.root / "a/f00.txt").read_text() == "outside 0 file 0\n"

    def test_a_fetch_that_listed_packs_before_another_clone_merged_them_finds_the_new(
            self, packed, tmp_path):
        from mlvc.objects.store import ObjectStore
        from mlvc.ops._remote import connect
        from mlvc.repo import Repo

        project, remote = packed
        for n in range(1, 5):  # five small packs in all
            project.gen({"data": {"d0": {f"new{n}-{i}.txt": f"push {n} file {i}\n"
                                         for i in range(20)}}})
            project.run("add", "data")
            project.commit_all(f"v{n + 1}")
            project.run("push")
        other = clone(project, tmp_path / "clone", remote)
        wanted = sorted((o, size) for o, (_, _, size) in remote.packs().items())
        with Repo.find(other.root) as repo:
            (rem, index), (rem2, index2) = connect(repo, None), connect(repo, None)
            try:
                for r in (rem, rem2):
                    assert set(r.packed()) == {o for o, _ in wanted}  # (listed: five packs)
                project.run("gc", "-A", "-c", "-f")  # (another clone merges them meanwhile)
                read = dict(rem2.read_objects([o for o, _ in wanted[:30]]))
                got = rem.download(wanted, repo.cache)
            finally:
                index.close()
                index2.close()
        assert all(isinstance(b, bytes) for b in read.values()) and len(read) == 30
        assert got.failed == () and sorted(got.done) == [o for o, _ in wanted]
        store = ObjectStore(other.root / ".mlvc/cache")
        assert all(store.exists(o) for o, _ in wanted)

    def test_gc_puts_loose_small_objects_into_packs_from_sound_local_copies(
            self, project, remote, tmp_path):
        project.gen({"data": {"a.txt": "first\n"}})
        project.run("add", "data")
        project.commit_all("v1")
        remote.configure(project)
        project.commit_all("remote")
        project.run("push")
        wanted = set(oids_of(project))
        for n in range(4):  # four small pushes: each too few objects for a pack (loose)
            project.gen({"data": {f"n{n}": {f"f{i}.txt": f"push {n} file {i}\n"
                                            for i in range(5)}}})
            project.run("add", "data")
            project.commit_all(f"v{n + 2}")
            project.run("push")
            wanted |= oids_of(project)
        assert remote.packs() == {}
        store = ObjectStore(project.root / ".mlvc" / "cache")
        victim = hash_bytes(b"push 2 file 3\n")
        path = store.path_str(victim)
        os.chmod(path, 0o644)
        Path(path).write_bytes(b"push 2 file X\n")  # (this cache's copy went bad)
        doc = json.loads(project.run("gc", "-A", "-c", "-f", "--json").stdout)
        assert doc["remote_removed"] == [] and doc["objects_packed"] == len(wanted) - 1
        packed = remote.packs()
        assert set(packed) == wanted - {victim}
        loose = [o for o in wanted if remote.fs.exists(remote.object_path(o))]
        assert loose == [victim]  # (its remote copy is sound: kept loose)
        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("fetch", "-A", "--json").stdout)["failed"] == []
        assert wanted <= oids_of(other)
        other.run("checkout")
        assert other.read("data/n2/f3.txt") == "push 2 file 3\n"


class TestRemoteContract:
    def test_push_then_pull_into_an_empty_cache(self, pushed, tmp_path):
        project, remote = pushed
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["failed"] == [] and doc["transferred"] == len(oids_of(project))
        assert all(remote.has(o) for o in oids_of(project))

        other = clone(project, tmp_path / "clone", remote)
        assert not (other.root / "data").exists()
        r = other.run("pull", "--json")
        assert json.loads(r.stdout)["fetch"]["failed"] == []
        assert tracked(other) == tracked(project)
        assert oids_of(other) == oids_of(project)
        assert "up to date" in other.run("status").stdout

    def test_run_cache_travels_so_a_teammate_restores_instead_of_running(self, pushed,
                                                                          tmp_path):
        project, remote = pushed
        first = _two_runs(project)
        doc = json.loads(project.run("push", "--run-cache", "--json").stdout)
        assert doc["runs"] == 2 and doc["failed"] == []
        again = json.loads(project.run("push", "--run-cache", "--json").stdout)
        assert again["runs"] == 0 and again["transferred"] == 0

        other = clone(project, tmp_path / "clone", remote)
        fetched = json.loads(other.run("pull", "--run-cache", "--json").stdout)
        assert fetched["fetch"]["runs"] == 2
        other.gen({"params.yaml": "lr: 1\n"})
        result = other.run("repro")
        assert "run cache" in result.stdout
        assert not (other.root / "runs.log").exists()  # restored, never run
        assert other.read("model.out") == first

    def test_second_push_sends_nothing_and_asks_the_remote_nothing(self, pushed, monkeypatch):
        project, remote = pushed
        project.run("push")
        from mlvc.remote import fs as remote_fs

        asked: list[int] = []
        real = remote_fs.Remote.contains

        def spy(self, oids, *args, **kwargs):
            oids = set(oids)
            asked.append(len(oids))
            return real(self, oids, *args, **kwargs)

        monkeypatch.setattr(remote_fs.Remote, "contains", spy)
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["transferred"] == 0 and doc["present"] == len(oids_of(project))
        assert asked == [0]  # the local index answered for every object

    def test_second_push_does_not_look_inside_folders_the_remote_has(self, pushed,
                                                                      monkeypatch):
        project, remote = pushed
        project.run("push")

        def refuse(self, oid, *args, **kwargs):
            raise AssertionError(f"read manifest {oid}")

        monkeypatch.setattr(ObjectStore, "read_tree", refuse)
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["transferred"] == 0 and doc["failed"] == []
        assert doc["present"] == len(oids_of(project))  # counted, not looked at

    def test_a_push_after_a_pull_does_not_look_inside_what_was_fetched(self, pushed,
                                                                       tmp_path, monkeypatch):
        project, remote = pushed
        project.run("push")
        other = clone(project, tmp_path / "clone", remote)
        other.run("pull")

        def refuse(self, oid, *args, **kwargs):
            raise AssertionError(f"read manifest {oid}")

        monkeypatch.setattr(ObjectStore, "read_tree", refuse)
        doc = json.loads(other.run("push", "--json").stdout)
        assert doc["transferred"] == 0 and doc["present"] == len(oids_of(project))

    def test_a_changed_file_sends_it_and_the_manifests_above_it_only(self, pushed, tmp_path,
                                                                    monkeypatch):
        project, remote = pushed
        project.run("push")
        before = oids_of(project)
        project.gen({"data": {"sub": {"b.txt": "a different bee"}}})
        project.run("add", "data")
        project.commit_all("v2")
        new = oids_of(project) - before  # b.txt, and the manifests of data/sub and data
        assert len(new) == 3

        read: list[str] = []
        real = ObjectStore.read_tree

        def spy(self, oid, *args, **kwargs):
            read.append(oid)
            return real(self, oid, *args, **kwargs)

        monkeypatch.setattr(ObjectStore, "read_tree", spy)
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["transferred"] == 3 and doc["failed"] == []
        assert sorted(read) == sorted(new - {hash_bytes(b"a different bee")})  # not data/empty
        assert all(remote.has(o) for o in new)

        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("pull", "--json").stdout)["fetch"]["failed"] == []
        assert tracked(other) == tracked(project)

    def test_a_folder_that_is_also_a_subfolder_elsewhere_is_pushed_whole(self, project,
                                                                       remote, tmp_path):
        # b/ holds exactly what a/s/ holds: one manifest, a top-level folder and a subfolder.
        project.gen({"a": {"s": {"f.txt": "same"}, "g.txt": "gee"}, "b": {"f.txt": "same"}})
        project.run("add", "a", "b")
        remote.configure(project)
        project.commit_all("v1")
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["failed"] == [] and doc["transferred"] == len(oids_of(project)) == 4
        assert all(remote.has(o) for o in oids_of(project))

        other = clone(project, tmp_path / "clone", remote)
        assert json.loads(other.run("pull", "--json").stdout)["fetch"]["failed"] == []
        assert tracked(other, "a", "b") == tracked(project, "a", "b")

    def test_a_fresh_clone_pulls_a_part_whose_bytes_are_elsewhere_too(self, project, remote,
                                                                       tmp_path):
        # data/b/y has data/a/x's bytes; the manifests come from the remote, level by level.
        project.gen({"data": {"a": {"x": "same"}, "b": {"y": "same"}, "c": {"z": "zed"}}})
        project.run("add", "data")
        remote.configure(project)
        project.commit_all("v1")
        project.run("push")
        other = clone(project, tmp_path / "clone", remote)
        r = other.run("pull", "data/typo", code=1)
        assert "error: 'data/typo' is not recorded in data.mlvc" in r.stderr
        doc = json.loads(other.run("pull", "data/b/y", "--json").stdout)
        assert doc["fetch"]["failed"] == [] and doc["fetch"]["transferred"] >= 1
        assert (other.root / "data/b/y").read_text() == "same"
        assert not (other.root / "data/c/z").exists()

    def test_index_starts_again_after_a_gc_renewed_the_epoch(self, pushed):
        project, remote = pushed
        project.run("push")
        victim = sorted(oids_of(project))[0]
        remote.delete(victim)  # what a gc on the remote does: delete, and renew the epoch
        from mlvc.remote import open_remote
        from mlvc.repo import Repo

        with Repo.find(project.root) as repo:
            open_remote(repo.config, repo.root).renew_epoch()
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["transferred"] == 1 and remote.has(victim)

    def test_gc_cloud_deletes_what_no_kept_revision_uses(self, pushed, tmp_path):
        project, remote = pushed
        project.run("push")
        before = oids_of(project)
        project.gen({"data": {"a.csv": "x,y\n9,9\n"}})
        project.run("commit")
        project.commit_all("v2")
        project.run("push")
        doc = json.loads(project.run("gc", "-w", "-c", "-f", "--json").stdout)
        gone = set(doc["removed"])
        assert gone and gone <= before and set(doc["remote_removed"]) == gone
        assert not any(remote.has(o) for o in gone)
        assert all(remote.has(o) for o in oids_of(project))
        # the index started again and learns the truth: nothing is missing, nothing resent
        assert json.loads(project.run("push", "--json").stdout)["transferred"] == 0
        other = clone(project, tmp_path / "clone", remote)
        other.run("pull")
        assert tracked(other) == tracked(project)

    def test_gc_cloud_drops_the_run_records_whose_outputs_it_deletes(self, pushed, tmp_path):
        project, remote = pushed
        _two_runs(project)
        assert json.loads(project.run("push", "--run-cache", "--json").stdout)["runs"] == 2
        doc = json.loads(project.run("gc", "-w", "-c", "-f", "--json").stdout)
        assert doc["runs_removed"] == 1 and len(doc["remote_removed"]) == 1  # lr 1's model
        other = clone(project, tmp_path / "clone", remote)
        fetched = json.loads(other.run("pull", "--run-cache", "--json").stdout)["fetch"]
        assert fetched["failed"] == [] and fetched["runs"] == 1

    def test_verify_sets_a_corrupt_object_aside_and_push_sends_it_again(self, pushed):
        project, remote = pushed
        project.run("push")
        victim = sorted(oids_of(project))[0]
        remote.corrupt(victim)
        r = project.run("verify", "-c", "--json", code=1)
        doc = json.loads(r.stdout)
        assert doc["remote"] and doc["corrupt"] == [victim]
        assert doc["checked"] == len(oids_of(project))
        assert not remote.has(victim)
        remote.fs.invalidate_cache()
        assert remote.fs.exists(f"{remote.root}/corrupt/{victim}")
        assert json.loads(project.run("push", "--json").stdout)["transferred"] == 1
        assert remote.has(victim)
        assert json.loads(project.run("verify", "-c", "--json").stdout)["corrupt"] == []

    def test_partial_failure_then_rerun_finishes(self, pushed, monkeypatch):
        project, remote = pushed
        from mlvc.remote import fs as remote_fs

        all_oids = oids_of(project)
        store = ObjectStore(project.root / ".mlvc" / "cache")
        refused = {o for o in all_oids if store.read_bytes(o) in (b"bee", DATA["model.pkl"])}
        trees_above = {o for o in all_oids if store.read_bytes(o).startswith(b'{"entries"')
                       and b'"sub"' in store.read_bytes(o) or b'"b.txt"' in store.read_bytes(o)}
        assert len(refused) == 2 and len(trees_above) == 2
        for cls in (remote_fs.Remote, remote_fs.LocalRemote):
            real = cls._put

            def flaky(self, local, oid, size, _real=real):
                if oid in refused:
                    raise PermissionError(13, "Access Denied", oid)
                return _real(self, local, oid, size)

            monkeypatch.setattr(cls, "_put", flaky)
        real_async = remote_fs.Remote._put_async

        async def flaky_async(self, local, oid, size):  # S3: requests on the event loop
            if oid in refused:
                raise PermissionError(13, "Access Denied", oid)
            return await real_async(self, local, oid, size)

        monkeypatch.setattr(remote_fs.Remote, "_put_async", flaky_async)
        r = project.run("push", "--json", code=1)
        doc = json.loads(r.stdout)
        assert {f["oid"] for f in doc["failed"]} == refused
        assert all(f["path"].startswith(("data", "model.pkl")) for f in doc["failed"])
        assert "did not transfer" in r.stderr
        arrived = {o for o in all_oids if remote.has(o)}
        # The rest arrived and is kept; a folder's manifest waits until its content is there.
        assert arrived == all_oids - refused - trees_above

        monkeypatch.undo()
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["failed"] == []
        assert doc["transferred"] >= len(refused)
        assert all(remote.has(o) for o in all_oids)

    def test_corrupt_object_on_remote_is_detected_not_stored(self, pushed, tmp_path):
        project, remote = pushed
        project.run("push")
        oid = next(line.split(": ")[1] for line in
                   (project.root / "model.pkl.mlvc").read_text().splitlines()
                   if line.strip().startswith("oid:"))
        remote.corrupt(oid)
        other = clone(project, tmp_path / "clone", remote)
        r = other.run("pull", "--json", code=1)
        failed = json.loads(r.stdout)["fetch"]["failed"]
        assert failed == [{"path": "model.pkl", "oid": oid,
                           "reason": "corrupt on the remote (not stored)"}]
        assert oid not in oids_of(other)
        assert not (other.root / "model.pkl").exists()
        assert (other.root / "data/sub/b.txt").read_text() == "bee"  # the rest arrived

    def test_object_larger_than_one_request_streams_and_is_verified(self, pushed, tmp_path):
        """Objects over ``SMALL`` take the streaming path: whole bytes arrive, and a corrupt
        one is refused there too."""
        project, remote = pushed
        big = os.urandom(SMALL + (1 << 20) + 7)
        (project.root / "big.bin").write_bytes(big)
        project.run("add", "big.bin")
        project.commit_all("big")
        doc = json.loads(project.run("push", "--json").stdout)
        assert doc["failed"] == []

        other = clone(project, tmp_path / "clone", remote)
        other.run("pull")
        assert (other.root / "big.bin").read_bytes() == big

        oid = hash_bytes(big)
        remote.corrupt(oid)
        third = clone(project, tmp_path / "third", remote)
        r = third.run("pull", "big.bin", "--json", code=1)
        assert json.loads(r.stdout)["fetch"]["failed"] == [
            {"path": "big.bin", "oid": oid, "reason": "corrupt on the remote (not stored)"}]
        assert oid not in oids_of(third)
        tmp = third.root / ".mlvc" / "cache" / "tmp"
        assert not tmp.exists() or not any(tmp.iterdir())

    def test_missing_object_is_reported_by_path_and_oid(self, pushed, tmp_path):
        project, remote = pushed
        project.run("push")
        store = ObjectStore(project.root / ".mlvc" / "cache")
        oid = next(o for o in store.iter_oids() if store.read_bytes(o) == b"bee")
        remote.delete(oid)
        other = clone(project, tmp_path / "clone", remote)
        r = other.run("fetch", code=1)
        assert f"data/sub/b.txt  {oid}  missing on the remote" in r.stderr
        assert json.loads(other.run("status", "-c", "--json").stdout)["missing"] == [
            "data/sub/b.txt"]

    def test_all_branches(self, pushed, tmp_path):
        project, remote = pushed
        v1 = oids_of(project)
        project.git("checkout", "-q", "-b", "other")
        project.gen({"data": {"a.csv": "x,y\n3,4\n", "new.txt": "only on other"}})
        project.run("add", "data")
        project.commit_all("v2 on other")
        project.git("checkout", "-q", "main")
        project.run("checkout", "--force")
        assert not (project.root / "data/new.txt").exists()
        both = oids_of(project)
        assert both > v1

        doc = json.loads(project.run("push", "--json").stdout)  # workspace (main) only
        assert doc["transferred"] == len(v1)
        doc = json.loads(project.run("push", "-a", "--json").stdout)
        assert doc["transferred"] == len(both - v1)

        other = clone(project, tmp_path / "clone", remote)
        other.run("fetch", "-a")
        assert oids_of(other) == both
        other.git("checkout", "-q", "other")
        other.run("checkout")
        assert other.read("data/new.txt") == "only on other"

    def test_status_cloud(self, pushed, tmp_path):
        project, remote = pushed
        doc = json.loads(project.run("status", "-c", "--json").stdout)
        assert not doc["clean"] and "data/sub/b.txt" in doc["not_on_remote"]
        assert "data/" in doc["not_on_remote"]  # the folder's manifest
        assert project.run("status", "-c", "-q", code=1).stdout == ""
        project.run("push")
        doc = json.loads(project.run("status", "-c", "--json").stdout)
        assert doc["clean"] and doc["objects"] == len(oids_of(project))
        project.run("status", "-c", "-q")

        other = clone(project, tmp_path / "clone", remote)
        doc = json.loads(other.run("status", "-c", "--json").stdout)
        assert set(doc["not_in_cache"]) >= {"data/a.csv", "data/sub/b.txt", "model.pkl"}
        assert doc["not_on_remote"] == [] and doc["missing"] == []


    def test_status_cloud_tells_push_what_was_deleted_by_hand(self, pushed):
        """An object deleted from the remote by hand (no new epoch) is still in push's
        index: status -c, which asks the remote, finds it gone and says `mlvc push`; that
        push must then upload it, looking inside the folder that held it."""
        project, remote = pushed
        project.run("push")
        store = ObjectStore(project.root / ".mlvc" / "cache")
        oid = next(o for o in store.iter_oids() if store.read_bytes(o) == b"bee")
        remote.delete(oid)
        assert json.loads(project.run("push", "--json").stdout)["transferred"] == 0
        doc = json.loads(project.run("status", "-c", "--json").stdout)
        assert doc["not_on_remote"] == ["data/sub/b.txt"]
        assert json.loads(project.run("push", "--json").stdout)["transferred"] == 1
        assert remote.has(oid)
        assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]


def test_push_through_a_connection_dropping_proxy_finishes(project, s3_endpoint, tmp_path,
                                                          monkeypatch):
    """Connections cut part way through: retries finish the push, or a re-run does."""
    from mlvc.remote import retry

    monkeypatch.setattr(retry, "BASE_DELAY", 0.01)
    fs = _s3fs(s3_endpoint)
    bucket = f"b-{uuid.uuid4().hex[:20]}"
    fs.mkdir(bucket)
    proxy = DroppingProxy(int(s3_endpoint.rsplit(":", 1)[1]), drop_every=3, after_bytes=40)
    try:
        project.gen({"data": {f"f{i:03}.txt": f"file {i}\n" * (i + 1) for i in range(60)}})
        project.run("add", "data")
        via_proxy = RemoteSpec("s3", f"s3://{bucket}/p", fs, f"{bucket}/p",
                               {"endpoint_url": f"http://127.0.0.1:{proxy.port}",
                                "access_key_id": "testing", "secret_access_key": "testing",
                                "region": "us-east-1"})
        via_proxy.configure(project)
        first = project.run("push", "-j", "4", "--json", code=None)
        assert first.exit_code in (0, 1), first.output
        if first.exit_code == 1:
            assert json.loads(first.stdout)["failed"]
            assert "did not transfer" in first.stderr
            proxy.enabled = False
            project.run("push", "-j", "4")
        assert proxy.dropped > 0  # the faults did happen
    finally:
        proxy.close()
    direct = RemoteSpec("s3", f"s3://{bucket}/p", fs, f"{bucket}/p",
                        {"endpoint_url": s3_endpoint})
    direct.configure(project)
    assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]
    assert all(direct.has(o) for o in oids_of(project))


def test_s3_pull_asks_one_request_per_object(project, s3_endpoint, tmp_path):
    """One GET per object and no HEAD: not a series of range requests for a large one (moto,
    like some gateways, reads the whole object to answer each range: a 2 GiB pull took
    hours), nor a size request before each small one (s3fs does that by default)."""
    fs = _s3fs(s3_endpoint)
    bucket = f"b-{uuid.uuid4().hex[:20]}"
    fs.mkdir(bucket)
    big = os.urandom(SMALL + (1 << 20))
    (project.root / "big.bin").write_bytes(big)
    project.gen({"small": {f"f{i}.txt": f"small {i}\n" for i in range(5)}})
    project.run("add", "big.bin", "small")
    project.commit_all("data")
    direct = RemoteSpec("s3", f"s3://{bucket}/p", fs, f"{bucket}/p",
                        {"endpoint_url": s3_endpoint, "access_key_id": "testing",
                         "secret_access_key": "testing", "region": "us-east-1"})
    direct.configure(project)
    project.run("push")
    proxy = DroppingProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    proxy.enabled = False
    try:
        other = clone(project, tmp_path / "clone", direct)
        other.run("remote", "modify", "store", "endpoint_url", f"http://127.0.0.1:{proxy.port}")
        other.run("pull")
    finally:
        proxy.close()
    assert (other.root / "big.bin").read_bytes() == big
    assert tracked(other, "small") == tracked(project, "small")
    oids = oids_of(project)
    assert len(oids) == 7  # big.bin, five small files, the folder's manifest
    on_objects = [(m, t) for m, t in proxy.requests if "/objects/" in t]
    assert sorted(t.rsplit("/", 1)[-1] for m, t in on_objects if m == "GET") == sorted(
        o[2:] for o in oids)
    assert [r for r in on_objects if r[0] != "GET"] == []


# Runs a command and prints its peak RSS in MB. A child's peak as the kernel reports it
# includes its parent's size when it was started, so the command is started from this small
# fresh interpreter rather than from pytest.
_PEAK_RSS = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); "
             "_, status, use = os.wait4(p.pid, 0); assert status == 0, status; "
             "print(use.ru_maxrss // 1024)")


def test_large_s3_transfers_stay_in_bounded_memory(project, s3_endpoint, tmp_path):
    """A 160 MiB object: s3fs's defaults buffer 10 parts of 50 MiB (about 450 MB resident to
    push, 300 MB to pull); mlvc caps parts in flight and pulls as one stream."""
    fs = _s3fs(s3_endpoint)
    bucket = f"b-{uuid.uuid4().hex[:20]}"
    fs.mkdir(bucket)
    with open(project.root / "big.bin", "wb") as f:
        for _ in range(160):
            f.write(os.urandom(1 << 20))
    project.run("add", "big.bin")
    RemoteSpec("s3", f"s3://{bucket}/p", fs, f"{bucket}/p",
               {"endpoint_url": s3_endpoint, "access_key_id": "testing",
                "secret_access_key": "testing", "region": "us-east-1"}).configure(project)
    exe = [sys.executable, "-m", "mlvc", "-q"]

    def peak_mb(*args: str) -> int:
        out = subprocess.run([sys.executable, "-c", _PEAK_RSS, *exe, *args],
                             cwd=project.root, capture_output=True, text=True, check=True)
        return int(out.stdout.strip().splitlines()[-1])

    assert peak_mb("push") < 280
    oid = hash_file(project.root / "big.bin")
    assert fs.info(f"{bucket}/p/objects/{oid[:2]}/{oid[2:]}")["size"] == 160 << 20
    shutil.rmtree(project.root / ".mlvc" / "cache")
    (project.root / "big.bin").unlink()
    assert peak_mb("pull") < 160
    assert hash_file(project.root / "big.bin") == oid


def test_unreachable_remote_is_a_clear_error(project, monkeypatch):
    from mlvc.remote import retry

    monkeypatch.setattr(retry, "BASE_DELAY", 0.001)
    from tests.helpers.servers import free_port

    project.gen({"f.txt": "x"})
    project.run("add", "f.txt")
    project.run("remote", "add", "-d", "dead", "s3://bucket/x")
    project.run("remote", "modify", "dead", "endpoint_url", f"http://127.0.0.1:{free_port()}")
    project.run("remote", "modify", "dead", "access_key_id", "k")
    project.run("remote", "modify", "dead", "secret_access_key", "s")
    r = project.run("push", code=1)
    assert r.stderr.startswith("error: remote 'dead' (s3://bucket/x) cannot be reached")
    assert "hint:" in r.stderr and "Traceback" not in r.stderr


def test_a_folder_remote_whose_url_is_a_file_is_named_as_such(project, tmp_path):
    """Not "failed: NotADirectoryError …" with a hint about servers and retries."""
    (tmp_path / "afile").write_text("x")
    project.gen({"f.txt": "x"})
    project.run("add", "f.txt")
    project.run("remote", "add", "-d", "f", str(tmp_path / "afile"))
    for cmd in (["push"], ["fetch"], ["status", "-c"]):
        r = project.run(*cmd, code=1)
        assert r.stderr.startswith(f"error: remote 'f' ({tmp_path / 'afile'}) is not a folder: "
                                   "a file is in the way"), r.stderr
        assert "hint: point it at a folder: `mlvc remote modify f url PATH`" in r.stderr
        assert "retried" not in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "afile").read_text() == "x"


def test_folder_remote_transfers_in_forked_workers(project, tmp_path, monkeypatch):
    """Many objects to or from a folder go through forked workers; failures still come back
    per object, with their kind (an error crosses the process boundary intact)."""
    from mlvc.remote import fs as remote_fs

    monkeypatch.setattr(remote_fs, "PROCESS_MIN_ITEMS", 4)
    project.gen({"data": {f"{i}.txt": f"content {i}" for i in range(40)}})
    project.run("add", "data")
    spec = RemoteSpec("local", str(tmp_path / "remote"), None, str(tmp_path / "remote"),
                      {"packs": "false"})  # (loose objects: one transfer each)
    spec.configure(project)
    project.commit_all("data")
    doc = json.loads(project.run("push", "-j", "2", "--json").stdout)
    assert doc["transferred"] == 41 and doc["failed"] == []
    assert not (tmp_path / "remote" / "packs").exists()

    store = ObjectStore(project.root / ".mlvc" / "cache")
    victim = next(o for o in store.iter_oids() if store.read_bytes(o) == b"content 7")
    path = tmp_path / "remote" / "objects" / victim[:2] / victim[2:]
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    other = Project(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", str(project.root), str(other.root)], check=True)
    r = other.run("pull", "-j", "2", "--json", code=1)
    assert json.loads(r.stdout)["fetch"]["failed"] == [
        {"path": "data/7.txt", "oid": victim, "reason": "corrupt on the remote (not stored)"}]
    assert other.read("data/8.txt") == "content 8"
    assert victim not in set(ObjectStore(other.root / ".mlvc" / "cache").iter_oids())


def test_a_full_disk_during_a_transfer_is_named_with_its_own_hint(project, tmp_path,
                                                                   monkeypatch):
    import errno

    from mlvc.errors import NO_SPACE
    from mlvc.remote import fs as remote_fs

    project.gen({"data": {"a.txt": "aaa", "b.txt": "bbb"}})
    project.run("add", "data")
    spec = RemoteSpec("local", str(tmp_path / "remote"), None, str(tmp_path / "remote"))
    spec.configure(project)
    real = remote_fs.LocalRemote._put

    def full(self, local, oid, size):
        if size == 3:  # the two files; their folder's manifest still goes
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, local, oid, size)

    monkeypatch.setattr(remote_fs.LocalRemote, "_put", full)
    r = project.run("push", code=1)
    assert f"data/a.txt  {hash_bytes(b'aaa')}  {NO_SPACE}" in r.stderr
    assert "hint: free some disk space, then run the command again" in r.stderr
    r = project.run("push", "--json", code=1)
    assert {f["path"]: f["reason"] for f in json.loads(r.stdout)["failed"]} == {
        "data/a.txt": NO_SPACE, "data/b.txt": NO_SPACE}
    monkeypatch.setattr(remote_fs.LocalRemote, "_put", real)
    doc = json.loads(project.run("push", "--json").stdout)
    assert doc["failed"] == [] and doc["transferred"] >= 2


def test_s3_push_and_pull_of_many_small_files_are_a_few_requests(project, s3_endpoint,
                                                                   tmp_path):
    """300 small files: a pack and its index up, a few reads of the pack down, instead of a
    request per object each way."""
    fs = _s3fs(s3_endpoint)
    bucket = f"b-{uuid.uuid4().hex[:20]}"
    fs.mkdir(bucket)
    project.gen({"data": {f"f{i:03}.txt": f"small {i}\n" * 20 for i in range(300)}})
    project.run("add", "data")
    project.commit_all("data")
    proxy = DroppingProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    proxy.enabled = False
    try:
        spec = RemoteSpec("s3", f"s3://{bucket}/p", fs, f"{bucket}/p",
                          {"endpoint_url": f"http://127.0.0.1:{proxy.port}",
                           "access_key_id": "testing", "secret_access_key": "testing",
                           "region": "us-east-1"})
        spec.configure(project)
        project.run("push")
        puts = [t for m, t in proxy.requests if m == "PUT"]
        other = clone(project, tmp_path / "clone", spec)
        proxy.requests.clear()
        other.run("pull")
        gets = [t for m, t in proxy.requests if m == "GET"]
    finally:
        proxy.close()
    assert len(oids_of(project)) == 301
    # A pack, its index, the folder's manifest (loose: alone in its round), the epoch token.
    assert len(puts) == 4, puts
    assert sum("/packs/" in t for t in puts) == 2
    # The pack listing, its index, one read of the pack, the manifest; the epoch and bucket
    # listings (a handful).
    assert len(gets) <= 10, gets
    assert tracked(other, "data") == tracked(project, "data")


def test_import_url_from_s3_uses_the_options_of_the_remote_it_is_under(project, s3_endpoint):
    fs = _s3fs(s3_endpoint)
    fs.mkdir("imports")
    fs.pipe({"imports/raw/a.csv": b"1\n", "imports/raw/sub/b.csv": b"2\n"})
    project.run("remote", "add", "store", "s3://imports/cache")
    for key, value in (("endpoint_url", s3_endpoint), ("access_key_id", "testing"),
                       ("secret_access_key", "testing")):
        project.run("remote", "modify", "store", key, value)
    # (no default remote, no credentials in the environment: the remote's options are used)
    project.run("import-url", "s3://imports/raw", "raw")
    assert (project.root / "raw/sub/b.csv").read_text() == "2\n"
    src = json.loads(project.run("update", "--json").stdout)[0]["source"]
    assert src["url"] == "s3://imports/raw" and src["fingerprint"].startswith("dir:")
    assert "up to date" in project.run("update").stdout
    fs.pipe({"imports/raw/a.csv": b"one\n"})
    (check,) = json.loads(project.run("status", "--json").stdout)["imports"]
    assert check["update_available"] and check["error"] is None  # (by the objects' ETags)
    project.run("update")
    assert (project.root / "raw/a.csv").read_text() == "one\n"
    assert project.run("status", "-q").exit_code == 0
    listed = json.loads(project.run("ls-url", "s3://imports/raw", "--json").stdout)
    assert listed == [{"path": "a.csv", "type": "file", "size": 4},
                      {"path": "sub", "type": "dir", "size": None}]
    listed = json.loads(project.run("ls-url", "-R", "s3://imports/raw", "--json").stdout)
    assert [(e["path"], e["size"]) for e in listed] == [("a.csv", 4), ("sub/b.csv", 2)]
    project.run("get-url", "s3://imports/raw/a.csv", "copy.csv")
    assert (project.root / "copy.csv").read_text() == "one\n"
    project.run("remote", "add", "bucket", "s3://imports")
    for key, value in (("endpoint_url", s3_endpoint), ("access_key_id", "testing"),
                       ("secret_access_key", "testing")):
        project.run("remote", "modify", "bucket", key, value)
    doc = json.loads(project.run("import-url", "remote://bucket/raw/sub/b.csv", "b.csv",
                                 "--json").stdout)
    assert doc["source"]["url"] == "remote://bucket/raw/sub/b.csv"  # (as given: portable)
    assert (project.root / "b.csv").read_text() == "2\n"
    project.run("remote", "remove", "bucket")
    r = project.run("import-url", "remote://nope/x", code=1)
    assert "no remote named 'nope'" in r.stderr
    project.run("remote", "remove", "store")
    r = project.run("import-url", "s3://imports/raw/a.csv", "again.csv", code=1)
    assert "cannot be read" in r.stderr and "credentials" in r.stderr


def test_fs_config_opens_a_url_no_remote_is_for_and_import_url_records_it(
        project, s3_endpoint, monkeypatch, tmp_path):
    """As DVC's --fs-config: options of the URL's filesystem, on the command line. The
    credentials come from the environment here (a pointer file never records a secret)."""
    fs = _s3fs(s3_endpoint)
    fs.mkdir("fsconf")
    fs.pipe({"fsconf/a.csv": b"1\n"})
    endpoint = f"endpoint_url={s3_endpoint}"
    keys = ("--fs-config", "access_key_id=testing", "--fs-config", "secret_access_key=testing")
    listed = json.loads(project.run("ls-url", "s3://fsconf", "--fs-config", endpoint, *keys,
                                    "--size", "--json").stdout)
    assert listed == [{"path": "a.csv", "type": "file", "size": 2}]
    project.run("get-url", "s3://fsconf/a.csv", "got.csv", "--fs-config", endpoint, *keys)
    assert (project.root / "got.csv").read_text() == "1\n"
    r = project.run("import-url", "s3://fsconf/a.csv", "--fs-config", endpoint, *keys, code=1)
    assert "--fs-config access_key_id: a secret" in r.stderr and "remote modify" in r.stderr
    assert not (project.root / "a.csv.mlvc").exists()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    project.run("import-url", "s3://fsconf/a.csv", "--fs-config", endpoint)
    assert yaml.safe_load(project.read("a.csv.mlvc"))["import_url"]["fs_config"] == {
        "endpoint_url": s3_endpoint}
    fs.pipe({"fsconf/a.csv": b"two\n"})
    (check,) = json.loads(project.run("status", "--json").stdout)["imports"]
    assert check["update_available"] and check["error"] is None  # (through the recorded one)
    project.run("update")
    assert (project.root / "a.csv").read_text() == "two\n"
    assert yaml.safe_load(project.read("a.csv.mlvc"))["import_url"]["fs_config"] == {
        "endpoint_url": s3_endpoint}  # (kept by the update)
    r = project.run("ls-url", str(tmp_path), "--fs-config", "anon=true", code=1)
    assert "a path on this machine, which takes no options" in r.stderr
    assert "is not KEY=VALUE" in project.run("ls-url", "s3://fsconf", "--fs-config", "x",
                                             code=2).stderr


def test_version_aware_import_url_reads_the_recorded_versions_after_they_change(
        project, s3_endpoint, monkeypatch, tmp_path):
    """As DVC's --version-aware: each file's version id is recorded, and a clone's pull
    reads exactly those versions, though the bucket holds newer ones by then."""
    fs = _s3fs(s3_endpoint)
    fs.mkdir("versioned")
    fs.make_bucket_versioned("versioned")
    fs.pipe({"versioned/raw/a.csv": b"1\n", "versioned/raw/sub/b.csv": b"b\n",
             "versioned/one.csv": b"one\n"})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = ("--fs-config", f"endpoint_url={s3_endpoint}")
    project.run("import-url", "s3://versioned/raw", "raw", "--version-aware", *endpoint)
    project.run("import-url", "s3://versioned/one.csv", "--version-aware", "--no-download",
                *endpoint)
    raw = yaml.safe_load(project.read("raw.mlvc"))["import_url"]
    assert raw["fs_config"] == {"endpoint_url": s3_endpoint, "version_aware": "true"}
    assert sorted(raw["versions"]) == ["a.csv", "sub/b.csv"]
    one = yaml.safe_load(project.read("one.csv.mlvc"))["import_url"]
    assert one["version_id"] and one["fingerprint"] == "version:" + one["version_id"]
    # (without the option, a file of a versioned bucket is fingerprinted by its ETag, as
    # before: s3fs gives its version id all the same)
    project.run("import-url", "s3://versioned/one.csv", "plain.csv", *endpoint)
    plain = yaml.safe_load(project.read("plain.csv.mlvc"))["import_url"]
    assert plain["fingerprint"].startswith("etag:") and "version_id" not in plain
    assert not any(c["update_available"] for c in json.loads(
        project.run("status", "--json").stdout)["imports"])
    project.run("remove", "plain.csv.mlvc")
    project.commit_all("imported")

    fs.pipe({"versioned/raw/a.csv": b"2\n", "versioned/one.csv": b"uno\n"})  # (newer ones)
    checks = json.loads(project.run("status", "--json").stdout)["imports"]
    assert [c["update_available"] for c in checks] == [True]  # (raw; one.csv is pending)
    clone = tmp_path / "clone"
    project.git("clone", "-q", str(project.root), str(clone))
    Project(clone).run("pull")  # (from the bucket: the recorded versions)
    assert (clone / "raw/a.csv").read_text() == "1\n"
    assert (clone / "raw/sub/b.csv").read_text() == "b\n"
    assert (clone / "one.csv").read_text() == "one\n"  # (pending: its recorded version)
    project.run("update", "raw")
    assert (project.root / "raw/a.csv").read_text() == "2\n"
    assert yaml.safe_load(project.read("raw.mlvc"))["import_url"]["versions"]["a.csv"] != \
        raw["versions"]["a.csv"]

    fs.mkdir("plain")
    fs.pipe({"plain/x.csv": b"x\n"})
    r = project.run("import-url", "s3://plain/x.csv", "--version-aware", *endpoint, code=1)
    assert "keeps no versions" in r.stderr and not (project.root / "x.csv.mlvc").exists()
    r = project.run("import-url", str(tmp_path), "--version-aware", code=1)
    assert "a path on this machine, which keeps no versions" in r.stderr


def test_migrate_dvc_keeps_a_version_aware_import_urls_versions(project, s3_endpoint,
                                                                   monkeypatch):
    """`dvc import-url --version-aware` recorded each file's version id: mlvc records them,
    so its pull reads those versions though the bucket holds newer ones."""
    import s3fs

    fs = _s3fs(s3_endpoint)
    fs.mkdir("dvcver")
    fs.make_bucket_versioned("dvcver")
    fs.pipe({"dvcver/d/a.csv": b"1\n", "dvcver/m.csv": b"m\n"})
    vfs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, key="testing", secret="testing",
                            version_aware=True, skip_instance_cache=True)
    vid = {p: vfs.info(f"dvcver/{p}")["VersionId"] for p in ("d/a.csv", "m.csv")}
    config = {"version_aware": True, "endpoint_url": s3_endpoint}
    project.gen({".dvc": {"config": ""}, "m.csv": "m\n", "d": {"a.csv": "1\n"},
                 "m.csv.dvc": yaml.safe_dump({"frozen": True, "deps": [
                     {"path": "s3://dvcver/m.csv", "version_id": vid["m.csv"], "etag": "e",
                      "fs_config": config}], "outs": [{"path": "m.csv", "md5": "x"}]}),
                 "d.dvc": yaml.safe_dump({"frozen": True, "deps": [
                     {"path": "s3://dvcver/d", "files": [{"relpath": "a.csv", "version_id":
                                                          vid["d/a.csv"], "etag": "e"}],
                      "fs_config": config}], "outs": [{"path": "d", "md5": "y.dir"}]})})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    project.run("migrate-dvc")
    m = yaml.safe_load(project.read("m.csv.mlvc"))["import_url"]
    assert m["version_id"] == vid["m.csv"] and m["fs_config"]["version_aware"] == "true"
    assert yaml.safe_load(project.read("d.mlvc"))["import_url"]["versions"] == {
        "a.csv": vid["d/a.csv"]}
    assert not any(c["update_available"] for c in json.loads(
        project.run("status", "--json").stdout)["imports"])  # (the same fingerprints)
    fs.pipe({"dvcver/d/a.csv": b"2\n", "dvcver/m.csv": b"M\n"})
    assert all(c["update_available"] for c in json.loads(
        project.run("status", "--json").stdout)["imports"])
    shutil.rmtree(project.root / ".mlvc/cache")
    for f in ("m.csv", "d/a.csv"):
        (project.root / f).unlink()
    project.run("pull")  # (no remote: from the bucket, at the recorded versions)
    assert project.read("m.csv") == "m\n" and project.read("d/a.csv") == "1\n"


def test_migrate_dvc_keeps_an_import_urls_fs_config_but_its_secrets(project, s3_endpoint,
                                                                     monkeypatch):
    fs = _s3fs(s3_endpoint)
    fs.mkdir("dvcfsc")
    fs.pipe({"dvcfsc/m.csv": b"m\n"})
    etag = fs.info("dvcfsc/m.csv")["ETag"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    dep = {"path": "s3://dvcfsc/m.csv", "etag": etag,
           "fs_config": {"endpoint_url": s3_endpoint, "secret_access_key": "testing"}}
    project.gen({".dvc": {"config": ""}, "m.csv": "m\n", "m.csv.dvc": yaml.safe_dump(
        {"frozen": True, "deps": [dep], "outs": [{"md5": "0" * 32, "path": "m.csv"}]})})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert any("fs_config secret_access_key not recorded" in n for n in doc["notes"])
    src = yaml.safe_load(project.read("m.csv.mlvc"))["import_url"]
    assert src["fs_config"] == {"endpoint_url": s3_endpoint}
    assert not src["fingerprint"].startswith("dvc-")  # (asked through it: the same ETag)


def test_add_to_remote_sends_outside_data_to_every_kind_of_remote(project, remote, tmp_path):
    ext = tmp_path / "mnt"
    (ext / "raw/sub").mkdir(parents=True)
    for i in range(20):  # (packed where packs are written)
        (ext / "raw" / f"f{i:02}.txt").write_text(f"file {i}\n")
    (ext / "raw/sub/big.bin").write_bytes(os.urandom((1 << 20) + 1))  # (loose)
    remote.configure(project)
    doc = json.loads(project.run("add", str(ext / "raw"), "-o", "raw", "--to-remote",
                                 "--json").stdout)
    assert doc["sent"] == 23 and not (project.root / "raw").exists()
    # import-url --to-remote: the same data by its URL, sent a batch at a time
    got = json.loads(project.run("import-url", str(ext / "raw"), "url", "--to-remote",
                                 "--json").stdout)
    assert got["oid"] == doc["oid"] and not (project.root / "url").exists()
    project.commit_all("raw, on the remote only")
    shutil.rmtree(ext / "raw/sub")  # (the URL moved on: the clone takes the remote's copy)
    other = clone(project, tmp_path / "clone", remote)
    other.run("pull")
    from tests.conftest import snapshot

    assert snapshot(other.root / "raw") == snapshot(other.root / "url")
    assert (other.root / "url/sub/big.bin").stat().st_size == (1 << 20) + 1


def test_get_from_a_dvc_project_whose_remote_is_s3_with_dvcs_option_names(s3_endpoint,
                                                                         tmp_path,
                                                                         monkeypatch):
    """A DVC registry on S3, configured as DVC writes it (`endpointurl`), credentials from
    the environment as DVC's take them: `mlvc get` reads it, each file checked by md5."""
    import hashlib

    import yaml

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    fs = _s3fs(s3_endpoint)
    bucket = f"dvc-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    files = {"a.csv": b"a\n", "sub/b.csv": b"b\n"}
    entries = []
    for rel, data in sorted(files.items()):
        name = hashlib.md5(data).hexdigest()
        fs.pipe_file(f"{bucket}/store/files/md5/{name[:2]}/{name[2:]}", data)
        entries.append({"md5": name, "relpath": rel})
    listing = json.dumps(entries, sort_keys=True).encode()
    folder = hashlib.md5(listing).hexdigest()
    fs.pipe_file(f"{bucket}/store/files/md5/{folder[:2]}/{folder[2:]}.dir", listing)
    registry = tmp_path / "registry"
    (registry / ".dvc").mkdir(parents=True)
    (registry / ".dvc" / "config").write_text(
        f"[core]\n    remote = s3store\n['remote \"s3store\"']\n    url = s3://{bucket}/store\n"
        f"    endpointurl = {s3_endpoint}\n")
    (registry / "raw.dvc").write_text(yaml.safe_dump({"outs": [
        {"md5": folder + ".dir", "path": "raw", "hash": "md5"}]}))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "data"]):
        subprocess.run(["git", *args], cwd=registry, check=True, capture_output=True)
    here = tmp_path / "here"
    here.mkdir()
    Project(here).run("get", str(registry), "raw")
    assert (here / "raw/sub/b.csv").read_bytes() == b"b\n"
    assert (here / "raw/a.csv").read_bytes() == b"a\n"

    # Its recorded endpoint wrong, and no credentials in the environment: --remote-config
    # gives both, in DVC's names, as `dvc get --remote-config` takes them.
    (registry / ".dvc" / "config").write_text(
        f"[core]\n    remote = s3store\n['remote \"s3store\"']\n    url = s3://{bucket}/store\n"
        "    endpointurl = http://127.0.0.1:9\n")
    subprocess.run(["git", "commit", "-qam", "moved"], cwd=registry, check=True)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    for var in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(var, str(tmp_path / "none"))
    Project(here).run("get", str(registry), "raw", "-o", "raw2", code=1)
    Project(here).run("get", str(registry), "raw", "-o", "raw2",
                      "--remote-config", f"endpointurl={s3_endpoint}",
                      "--remote-config", "access_key_id=testing",
                      "--remote-config", "secret_access_key=testing")
    assert (here / "raw2/sub/b.csv").read_bytes() == b"b\n"
