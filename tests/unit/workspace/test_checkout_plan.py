"""The checkout plan, with no filesystem: which files are created, replaced, kept."""

from mlvc.workspace.checkout import plan
from mlvc.workspace.compare import Recorded, Want, WsView, diff
from mlvc.workspace.scan import WsFile
from mlvc.workspace.state import StatKey

A, B, C = "a" * 32, "b" * 32, "c" * 32


def rec(files, dirs=()):
    return Recorded({p: Want(o, False, 1) for p, o in files.items()}, frozenset(dirs),
                    frozenset())


def ws(files, dirs=()):
    return WsView({p: WsFile(p, StatKey(1, 1, 1), False, o) for p, o in files.items()},
                  frozenset(dirs))


def kinds(p):
    return sorted((a.kind, a.path) for a in p.actions)


def test_nothing_to_do_when_equal():
    p = plan(rec({"d/x": A}, {"d"}), ws({"d/x": A}, {"d"}), lambda o: True)
    assert p.empty and not p.conflicts


def test_creates_replaces_and_deletes_saved_files():
    p = plan(rec({"d/x": A, "d/y": B}, {"d"}), ws({"d/x": C, "d/z": A}, {"d"}),
             lambda o: True)
    assert kinds(p) == [("create", "d/y"), ("delete", "d/z"), ("replace", "d/x")]


def test_unsaved_files_are_kept_as_conflicts():
    saved = {A}
    p = plan(rec({"d/x": A}, {"d"}), ws({"d/x": B, "d/new": C}, {"d"}), saved.__contains__)
    assert p.conflicts == ("d/new", "d/x")
    assert kinds(p) == []


def test_force_overrides_conflicts():
    p = plan(rec({"d/x": A}, {"d"}), ws({"d/x": B, "d/new": C}, {"d"}), lambda o: False,
             force=True)
    assert kinds(p) == [("delete", "d/new"), ("replace", "d/x")]
    assert not p.conflicts


def test_kept_file_blocks_a_folder_in_its_place():
    p = plan(rec({"d/x/inner": A}, {"d", "d/x"}), ws({"d/x": B}, {"d"}), lambda o: False)
    assert p.conflicts == ("d/x",)
    assert kinds(p) == [] and "d/x" not in p.mkdirs


def test_empty_and_extra_folders():
    p = plan(rec({}, {"d", "d/empty"}), ws({}, {"d", "d/old", "d/old/deeper"}), lambda o: True)
    assert p.mkdirs == ("d/empty",)
    assert p.rmdirs == ("d/old/deeper", "d/old")


def test_relink_only_on_request():
    assert plan(rec({"x": A}), ws({"x": A}), lambda o: True).empty
    p = plan(rec({"x": A}), ws({"x": A}), lambda o: True, relink=True)
    assert kinds(p) == [("relink", "x")]


def test_diff_reports_each_kind_and_empty_folders():
    changes = diff(rec({"d/x": A, "d/y": B}, {"d", "d/e"}),
                   ws({"d/x": C, "d/z": A}, {"d", "d/f"}))
    assert changes.added == ("d/f/", "d/z")
    assert changes.deleted == ("d/e/", "d/y")
    assert changes.modified == ("d/x",)
