from unittest import mock

import pathspec
from hypothesis import given
from hypothesis import strategies as st

from mlvc.paths import is_valid_name
from mlvc.workspace import gitignore

names = st.text(min_size=1, max_size=15).filter(
    lambda n: is_valid_name(n) and "\n" not in n and "\r" not in n and n.strip() == n)


@given(names, names)
def test_escaped_entry_matches_only_that_name(name, other):
    _, line = gitignore.entry_for(name)
    spec = pathspec.GitIgnoreSpec.from_lines([line])
    assert spec.match_file(name)
    if other != name:
        assert not spec.match_file(other)


def test_add_and_remove_keep_other_lines(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*.pyc")
    assert gitignore.add(tmp_path, "sub/data") == "sub/.gitignore"
    assert gitignore.add(tmp_path, "sub/data") is None
    assert (tmp_path / "sub" / ".gitignore").read_text() == "*.pyc\n/data\n"
    assert gitignore.remove(tmp_path, "sub/data") == "sub/.gitignore"
    assert (tmp_path / "sub" / ".gitignore").read_text() == "*.pyc\n"


user_lines = st.lists(st.binary(max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b),
                      min_size=1, max_size=6)


@given(user_lines, st.sampled_from([b"\n", b"\r\n"]), names)
def test_add_then_remove_gives_back_the_same_bytes(tmp_path_factory, lines, nl, name):
    # A user's .gitignore keeps its bytes: other lines, encoding and line endings alike.
    root = tmp_path_factory.mktemp("gi")
    original = b"".join(x + nl for x in lines)
    (root / ".gitignore").write_bytes(original)
    if gitignore.add(root, name) is None:  # the user had that very line already
        return
    data = (root / ".gitignore").read_bytes()
    assert data == original + gitignore.entry_for(name)[1].encode() + nl
    assert gitignore.remove(root, name) == ".gitignore"
    assert (root / ".gitignore").read_bytes() == original


def _each_then_all(each, all_at_once, one, many, paths):
    """``each`` of the paths in project ``one``, ``all_at_once`` of them in ``many``: both
    must name the same changed files. Returns those and the files ``all_at_once`` wrote."""
    changed = list(dict.fromkeys(c for p in paths if (c := each(one, p))))
    writes = []
    real = gitignore.atomic_write
    with mock.patch.object(gitignore, "atomic_write",
                           lambda fs, data: writes.append(fs) or real(fs, data)):
        assert all_at_once(many, paths) == changed
    return changed, writes


@given(items=st.lists(st.tuples(st.sampled_from(["", "a", "a/b"]), names), max_size=12),
       start=st.sampled_from([b"", b"*.pyc\n", b"keep\r\n", b"no newline"]))
def test_add_many_is_add_of_each_with_each_file_written_once(tmp_path_factory, items, start):
    one, many = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("many")
    paths = [f"{folder}/{name}" if folder else name for folder, name in items]
    for root in (one, many):
        for folder in ("a", "a/b"):
            (root / folder).mkdir(parents=True)
        (root / "a" / ".gitignore").write_bytes(start)
    changed, writes = _each_then_all(gitignore.add, gitignore.add_many, one, many, paths)
    assert len(writes) == len(set(writes)) == len(changed)
    for gi in (".gitignore", "a/.gitignore", "a/b/.gitignore"):
        assert (one / gi).exists() == (many / gi).exists()
        if (one / gi).exists():
            assert (one / gi).read_bytes() == (many / gi).read_bytes()


@given(kept=st.lists(names, max_size=5), gone=st.lists(names, max_size=8),
       nl=st.sampled_from([b"\n", b"\r\n"]))
def test_remove_many_is_remove_of_each_with_each_file_written_once(tmp_path_factory, kept,
                                                                   gone, nl):
    one, many = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("many")
    lines = [gitignore.entry_for(n)[1].encode() for n in kept + gone] + [b"*.pyc"]
    for root in (one, many):
        (root / "sub").mkdir()
        (root / "sub" / ".gitignore").write_bytes(b"".join(x + nl for x in lines))
    paths = [f"sub/{n}" for n in gone] + ["not/there"]
    _, writes = _each_then_all(gitignore.remove, gitignore.remove_many, one, many, paths)
    assert len(writes) <= 1
    assert (one / "sub/.gitignore").read_bytes() == (many / "sub/.gitignore").read_bytes()


def test_a_symlinked_gitignore_is_refused_before_any_is_written(tmp_path):
    import pytest

    from mlvc.errors import TargetError

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"secret\n")
    (tmp_path / "b" / ".gitignore").symlink_to(target)
    for change in (gitignore.add_many, gitignore.remove_many):
        with pytest.raises(TargetError, match="'b/.gitignore' is a symlink"):
            change(tmp_path, ["a/x", "b/y"])
        assert not (tmp_path / "a" / ".gitignore").exists()
        assert target.read_bytes() == b"secret\n"
    with pytest.raises(TargetError, match="is a symlink"):
        gitignore.check_writable(tmp_path, "b/y")
    gitignore.check_writable(tmp_path, "a/x")  # a missing one is fine: it is created
