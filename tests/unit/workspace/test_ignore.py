import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc.errors import FormatError, PathError
from mlvc.workspace.ignore import IgnoreRules


def test_rules_apply_relative_to_their_folder(tmp_path):
    (tmp_path / ".mlvcignore").write_text("*.tmp\n/build/\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ".mlvcignore").write_text("cache/\n!keep.tmp\n")
    rules = IgnoreRules(tmp_path)
    assert rules.is_ignored("x.tmp")
    assert rules.is_ignored("data/y.tmp")
    assert rules.is_ignored("build", is_dir=True)
    assert not rules.is_ignored("data/build", is_dir=True)
    assert rules.is_ignored("data/cache/z.csv")
    assert not rules.is_ignored("data/z.csv")
    assert rules.is_ignored(".mlvc/config.yaml") and rules.is_ignored(".git")


_folders = st.lists(st.sampled_from(["a", "b", "c"]), max_size=4).map("/".join)


@given(rules=st.sets(_folders, max_size=4), asked=st.lists(_folders, min_size=1, max_size=8))
def test_active_rules_are_each_ancestors_rule_files_in_any_order_of_asking(
        tmp_path_factory, rules, asked):
    root = tmp_path_factory.mktemp("p")
    for folder in rules:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / ".mlvcignore").write_text(f"*.{folder.replace('/', '')}x\n")
    ignore = IgnoreRules(root)
    for folder in asked:
        parts = folder.split("/") if folder else []
        chain = ["", *("/".join(parts[:i + 1]) for i in range(len(parts)))]
        assert [base for base, _ in ignore.active_for(folder)] == [
            base for base in chain if base in rules]


def test_a_rule_file_symlinked_inside_the_project_is_read(tmp_path):
    (tmp_path / "rules").write_text("*.tmp\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ".mlvcignore").symlink_to("../rules")
    assert IgnoreRules(tmp_path).is_ignored("data/x.tmp")


def test_a_rule_file_symlinked_outside_the_project_is_refused_unread(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("*.tmp\n")
    root = tmp_path / "p"
    root.mkdir()
    (root / ".mlvcignore").symlink_to(outside)
    with pytest.raises(PathError, match=r"'\.mlvcignore' is a symlink that leads outside"):
        IgnoreRules(root).is_ignored("x.tmp")


def test_a_rule_file_that_cannot_be_read_is_a_clear_error(tmp_path):
    (tmp_path / "data" / ".mlvcignore").mkdir(parents=True)
    with pytest.raises(FormatError, match=r"cannot read the rule file 'data/\.mlvcignore'"):
        IgnoreRules(tmp_path).is_ignored("data/x")


_names = st.lists(st.sampled_from(["a", "b", "x.tmp", "keep.tmp", "data", "build"]),
                  min_size=1, max_size=4).map("/".join)


@given(path=_names, is_dir=st.booleans())
def test_explain_agrees_with_is_ignored_and_names_the_rule_by_its_line(
        tmp_path_factory, path, is_dir):
    root = tmp_path_factory.mktemp("p")
    (root / ".mlvcignore").write_text("# top\n*.tmp\n\n/build/\n")
    (root / "data").mkdir()
    (root / "data" / ".mlvcignore").write_text("b\n!keep.tmp\n")
    rules = IgnoreRules(root)
    match = rules.explain(path, is_dir)
    assert (match is not None) == rules.is_ignored(path, is_dir)
    if match is not None:
        text = (root / match.source).read_text().splitlines()
        assert text[match.line - 1] == match.rule
