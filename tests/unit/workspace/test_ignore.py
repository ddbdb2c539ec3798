from hypothesis import given
from hypothesis import strategies as st

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
