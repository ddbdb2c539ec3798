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
