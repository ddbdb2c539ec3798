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
