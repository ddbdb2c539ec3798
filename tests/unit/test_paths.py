import os
import posixpath
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc.errors import PathError
from mlvc.paths import (
    Links,
    Nested,
    Projects,
    check_inside,
    from_user,
    is_reserved,
    is_within,
    normalize_rel,
)

segments = st.sampled_from(["a", "b", "..", ".", "", "c d", "é"])
rel_paths = st.lists(segments, min_size=1, max_size=8).map("/".join)


def _climbs_out(path: str) -> bool:
    depth = 0
    for part in path.split("/"):
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return True
    return False


@given(rel_paths)
def test_normalized_paths_never_escape(path):
    if path == "" or path.startswith("/") or _climbs_out(path):
        with pytest.raises(PathError):
            normalize_rel(path)
        return
    out = normalize_rel(path)
    assert not out.startswith("/")
    assert ".." not in out.split("/") and "." not in out.split("/")
    assert os.path.normpath(os.path.join("/root", out or ".")) == os.path.normpath(
        os.path.join("/root", path))


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\b", "a\x00",
                                 ""])
def test_escaping_recorded_paths_are_refused(bad):
    with pytest.raises(PathError):
        normalize_rel(bad)


@given(rel_paths)
def test_user_paths_stay_inside(tmp_path_factory, path):
    root = tmp_path_factory.mktemp("root")
    (root / "a").mkdir()
    try:
        rel = from_user(root, path, cwd=root / "a")
    except PathError:
        return
    real = os.path.realpath(root / rel)
    assert real == str(root.resolve()) or real.startswith(str(root.resolve()) + os.sep)


def test_user_path_relative_to_cwd(tmp_path):
    (tmp_path / "sub").mkdir()
    assert from_user(tmp_path, "x.csv", cwd=tmp_path / "sub") == "sub/x.csv"
    assert from_user(tmp_path, "../y", cwd=tmp_path / "sub") == "y"
    assert from_user(tmp_path, str(tmp_path / "sub" / "z"), cwd=tmp_path) == "sub/z"


def test_user_path_outside_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(PathError, match="outside the project"):
        from_user(root, "../x", cwd=root)
    with pytest.raises(PathError, match="outside the project"):
        from_user(root, "/etc", cwd=root)


def test_an_absolute_path_may_reach_the_project_by_another_name(tmp_path):
    """As a shell in a linked folder prints it: /x/proj-link/data, proj-link -> proj."""
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "alias").symlink_to("data")
    link = tmp_path / "proj-link"
    link.symlink_to(root)
    assert from_user(root, str(link / "data" / "a"), cwd=root) == "data/a"
    assert from_user(root, str(link), cwd=root / "data") == ""
    assert from_user(root, "../../proj-link/data", cwd=root / "data") == "data"
    with pytest.raises(PathError, match="beyond a symbolic link"):
        from_user(root, str(link / "alias" / "a"), cwd=root)
    (tmp_path / "other").mkdir()
    with pytest.raises(PathError, match="outside the project"):
        from_user(root, str(tmp_path / "other" / "data"), cwd=root)


def test_symlink_leading_out_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(PathError, match="leads outside"):
        from_user(root, "link/x", cwd=root)


def test_a_path_beyond_a_symlink_inside_the_project_is_refused(tmp_path):
    root = tmp_path / "root"
    (root / "real" / "deep").mkdir(parents=True)
    (root / "real" / "f").write_text("x")
    (root / "link").symlink_to("real")
    (root / "real" / "up").symlink_to("..")
    with pytest.raises(PathError, match=r"'link/f' is beyond a symbolic link \('link'\)") as e:
        from_user(root, "link/f", cwd=root)
    assert e.value.hint == "name it by its real path: real/f"
    with pytest.raises(PathError, match=r"beyond a symbolic link \('real/up'\)") as e:
        from_user(root, "real/up/real/deep/x", cwd=root)
    assert e.value.hint == "name it by its real path: real/deep/x"
    with pytest.raises(PathError, match=r"beyond a symbolic link \('../link'\)") as e:
        from_user(root, "../link/deep", cwd=root / "real")  # named from a sub-folder
    assert e.value.hint == "name it by its real path: deep"
    # The link itself, and what lies beside it, are plain paths.
    assert from_user(root, "link", cwd=root) == "link"
    assert from_user(root, "real/f", cwd=root) == "real/f"
    # A current folder reached through the link is its real folder, as in git.
    assert from_user(root, "f", cwd=root / "link") == "real/f"


@given(st.lists(st.tuples(st.lists(st.sampled_from("abc"), min_size=1, max_size=4),
                          st.booleans()), max_size=6),
       st.lists(st.lists(st.sampled_from("abcx"), max_size=5), max_size=8))
def test_links_along_finds_the_first_symlinked_folder(made, asked):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for parts, is_link in made:  # folders, and links (to the root) where nothing is yet
            path = root.joinpath(*parts)
            if is_link and not os.path.lexists(path) and path.parent.is_dir() \
                    and not path.parent.is_symlink():
                path.symlink_to(root)
            elif not is_link:
                try:
                    path.mkdir(parents=True, exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    pass  # a link is in the way
        links = Links(root)
        for parts in asked * 2:  # twice: the second answers come from what was seen
            folder = "/".join(parts)
            expected = next(("/".join(parts[:i]) for i in range(1, len(parts) + 1)
                             if root.joinpath(*parts[:i]).is_symlink()), None)
            assert links.along(folder) == expected


def test_projects_along_finds_the_outermost_folder_holding_a_project(tmp_path):
    (tmp_path / "a/b/c/.mlvc").mkdir(parents=True)
    (tmp_path / "a/b/.mlvc").mkdir()
    (tmp_path / "x/y").mkdir(parents=True)
    (tmp_path / "x/.mlvc").write_text("a file, not a project")
    projects = Projects(tmp_path)
    assert projects.along("a/b/c/d") == "a/b" and projects.along("a/b") == "a/b"
    assert projects.along("a") is None and projects.along("x/y") is None
    assert projects.along("") is None  # the project itself


@pytest.mark.parametrize("reserved", [".mlvc/cache", ".git/config", ".mlvc"])
def test_reserved_folders_are_refused(tmp_path, reserved):
    with pytest.raises(PathError, match="manages itself"):
        check_inside(Path(tmp_path), reserved)


def test_is_within():
    assert is_within("a/b", "a") and is_within("a", "a") and is_within("x", "")
    assert not is_within("ab", "a") and not is_within("a", "a/b")


def test_errors_survive_pickling_with_their_fields():
    import pickle

    from mlvc.errors import CorruptObjectError, TargetError

    exc = pickle.loads(pickle.dumps(CorruptObjectError("a" * 32, "custom message", "a hint")))
    assert isinstance(exc, CorruptObjectError)
    assert (exc.oid, exc.message, exc.hint, str(exc)) == ("a" * 32, "custom message", "a hint",
                                                         "custom message")
    exc = pickle.loads(pickle.dumps(TargetError("missing", hint="add it")))
    assert (exc.message, exc.hint) == ("missing", "add it")


@pytest.mark.parametrize("raw", ["a\\b", os.fsdecode(b"caf\xe9"), os.fsdecode(b"d/\xff/x")])
def test_user_paths_that_cannot_be_recorded_are_refused(tmp_path, raw):
    with pytest.raises(PathError, match="cannot record"):
        from_user(tmp_path, raw, tmp_path)
    assert from_user(tmp_path, "café/ü", tmp_path) == "café/ü"  # UTF-8 is fine


tree_paths = st.lists(st.sampled_from(["a", "b", "a-b", "a.b", "é"]), min_size=1,
                      max_size=4).map("/".join)


@given(st.lists(tree_paths | st.just(""), max_size=12), tree_paths | st.just(""))
def test_nested_answers_as_comparing_with_each_path(paths, path):
    nested = Nested(paths)
    holding = sorted({p for p in paths if is_within(path, p)}, key=len)
    inside = sorted({p for p in paths if p != path and is_within(p, path)})
    assert nested.holding(path) == holding
    assert nested.inside(path) == inside
    assert sorted(nested.overlapping(path)) == sorted(holding + inside)


# -- project paths as seen from a sub-folder (what the CLI prints there) -------------------
names = st.sampled_from(["a", "b", "ab", "..a", "-x", "c d", "é", "a.b"])
project_paths = st.lists(names, max_size=4).map("/".join)


@given(project_paths, project_paths)
def test_a_path_seen_from_a_folder_leads_back_to_it(path, here):
    from mlvc.paths import seen_from

    shown = seen_from(path, here)
    # typed in ``here``, it names the same project path (".." climbing only as far as needed)
    assert posixpath.normpath(posixpath.join("/p", here, shown)) == posixpath.normpath(
        posixpath.join("/p", path))
    if not here:
        assert shown == path  # at the root: as recorded
        return
    parts = shown.split("/")
    assert "" not in parts and ("." not in parts or shown == ".")
    ups = parts.count("..")
    assert parts[:ups] == [".."] * ups  # climbs first, then only goes down
    assert (ups == 0) == is_within(path, here)  # climbs only out of ``here``


@given(project_paths)
def test_a_path_seen_from_the_root_or_outside_is_as_recorded(path):
    from mlvc.paths import seen_from

    assert seen_from(path, "") == path and seen_from(path, None) == path


def test_seen_from_examples(tmp_path):
    from mlvc.paths import UserPaths, folder_in, seen_from, typed_in

    assert seen_from("sub/d/x", "sub") == "d/x"
    assert seen_from("sub", "sub") == "."
    assert seen_from("data", "sub/deep") == "../../data"
    assert seen_from("", "sub/deep") == "../.."
    assert seen_from("subx/y", "sub") == "../subx/y"  # a shared prefix is not a folder
    (tmp_path / "sub").mkdir()
    assert folder_in(tmp_path, tmp_path / "sub") == "sub"
    assert folder_in(tmp_path, tmp_path) == ""
    assert folder_in(tmp_path / "sub", tmp_path) is None
    here = UserPaths(tmp_path, tmp_path / "sub").here
    assert typed_in("sub/-x", here) == "./-x"  # not taken for an option
    assert typed_in("my data", here) == "'../my data'"


@given(st.sampled_from([".git", ".mlvc"]), st.lists(st.booleans(), min_size=5, max_size=5),
       st.text(max_size=6))
def test_reserved_names_in_any_case(base, upper, other):
    name = "".join(c.upper() if u else c for c, u in zip(base, upper))
    assert is_reserved(name)
    assert is_reserved(other) == (other.lower() in (".git", ".mlvc"))
    assert not is_reserved(name + "x") and not is_reserved("x" + name)
