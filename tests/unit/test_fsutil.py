"""NewFile: a new file appears under its final name whole, or not at all; copy_fd."""

import errno
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc import fsutil
from mlvc.fsutil import NewFile, unnamed_files_work


@pytest.fixture(params=["unnamed", "named"])
def folder(request, tmp_path, monkeypatch):
    """A folder where NewFile starts unnamed files (if this filesystem can), or named ones."""
    if request.param == "unnamed":
        if not unnamed_files_work(str(tmp_path)):
            pytest.skip("this filesystem has no unnamed (O_TMPFILE) files")
    else:
        monkeypatch.setitem(fsutil._UNNAMED, str(tmp_path), False)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def entries(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_publish_puts_the_whole_file_in_place(folder):
    with NewFile(str(folder), str(folder / "tmp/x.1"), 0o444) as new:
        os.write(new.fd, b"hello")
        assert entries(folder) <= {"tmp", "tmp/x.1"}  # not under its final name yet
        new.publish(str(folder / "final"))
    assert (folder / "final").read_bytes() == b"hello"
    assert stat.S_IMODE(os.stat(folder / "final").st_mode) == 0o444
    assert entries(folder) == {"tmp", "final"}


def test_publish_replaces_what_is_there(folder):
    (folder / "final").write_bytes(b"old")
    with NewFile(str(folder), str(folder / "tmp/x.2"), 0o444) as new:
        os.write(new.fd, b"new")
        new.publish(str(folder / "final"))
    assert (folder / "final").read_bytes() == b"new"
    assert entries(folder) == {"tmp", "final"}


def test_leaving_without_publish_keeps_nothing(folder):
    with pytest.raises(RuntimeError), NewFile(str(folder), str(folder / "tmp/x.3"), 0o444) as new:
        os.write(new.fd, b"half")
        raise RuntimeError("interrupted")
    assert entries(folder) == {"tmp"}


def test_a_killed_writer_leaves_no_name_behind(tmp_path):
    """An unnamed file needs no clean-up at all: the kernel frees it with the process."""
    if not unnamed_files_work(str(tmp_path)):
        pytest.skip("this filesystem has no unnamed (O_TMPFILE) files")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies mid-write
        new = NewFile(str(tmp_path), str(tmp_path / "tmp.x"), 0o444)
        os.write(new.fd, b"half")
        os._exit(9)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    assert list(tmp_path.iterdir()) == []


def test_unnamed_files_work_is_false_where_they_cannot_be_made(tmp_path):
    assert unnamed_files_work(str(tmp_path / "missing")) is False


def test_unnamed_files_are_tried_once_per_filesystem(tmp_path, monkeypatch):
    probes = []
    real = fsutil._probe_unnamed
    monkeypatch.setattr(fsutil, "_probe_unnamed", lambda f: probes.append(f) or real(f))
    monkeypatch.setattr(fsutil, "_UNNAMED_ON", {})
    folders = [tmp_path / f"d{i}" for i in range(5)]
    for folder in folders:
        folder.mkdir()
    answers = {unnamed_files_work(str(f)) for f in folders}
    assert probes == [str(folders[0])] and len(answers) == 1


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_copy_fd_copies_everything_with_or_without_copy_file_range(tmp_path, monkeypatch,
                                                                   kernel_copy):
    data = os.urandom(3 * (1 << 20) + 17)
    (tmp_path / "src").write_bytes(data)
    if not kernel_copy:
        def refuse(*_a):
            raise OSError(errno.EXDEV, "cross-device")
        monkeypatch.setattr(os, "copy_file_range", refuse)
    written = []
    real_write = os.write
    # Short writes: at most 1000 bytes at a time, which write_all must make up for.
    monkeypatch.setattr(os, "write", lambda fd, b: written.append(1) or real_write(fd, b[:1000]))
    src = os.open(tmp_path / "src", os.O_RDONLY)
    dst = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fsutil.copy_fd(src, dst, len(data))
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "dst").read_bytes() == data
    assert bool(written) is not kernel_copy


@pytest.mark.parametrize("count", [3, fsutil.WRITE_MANY_MIN + 40])
def test_atomic_write_many_writes_each_file_whole(folder, count, monkeypatch):
    fsyncs = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real(fd))
    (folder / "f0").write_text("old content, replaced")
    items = [(folder / ("deep/new" if i == 1 else "") / f"f{i}", f"content {i}" * i)
             for i in range(count)]
    fsutil.atomic_write_many(items)
    for path, data in items:
        assert path.read_text() == data
    assert len(fsyncs) == count  # each file's bytes are on disk before it has its name
    leftovers = [p for p in folder.rglob("*") if ".mlvc-tmp." in p.name]
    assert leftovers == []
    os.umask(umask := os.umask(0))
    assert stat.S_IMODE(os.stat(items[0][0]).st_mode) == 0o666 & ~umask


def test_atomic_write_many_raises_the_first_failure(folder):
    items = [(folder / f"ok{i}", "x") for i in range(fsutil.WRITE_MANY_MIN)]
    with pytest.raises(OSError) as err:
        fsutil.atomic_write_many([*items, (folder / ("n" * 300), "name too long")])
    assert err.value.errno == errno.ENAMETOOLONG
    assert all(path.read_text() == "x" for path, _ in items)  # the others are whole
    assert [p for p in folder.rglob("*") if ".mlvc-tmp." in p.name] == []


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
               min_size=1, max_size=255).filter(lambda n: len(os.fsencode(n)) <= 255))
def test_a_temporary_name_fits_in_a_file_name_and_is_known_as_a_leftover(name):
    from mlvc.fsutil import NAME_MAX, tmp_name
    from mlvc.workspace.scan import is_leftover

    folder, base = tmp_name("/some/folder", name).rsplit("/", 1)
    assert folder == "/some/folder" and base.startswith(".")
    assert len(os.fsencode(base)) <= NAME_MAX
    assert is_leftover(base)
    if len(os.fsencode(name)) <= 200:  # room to spare: the whole name is kept
        assert base.startswith(f".{name}.mlvc-tmp.")
