import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from mlvc.errors import FormatError, PathError
from mlvc.paths import is_reserved, is_valid_name
from mlvc.workspace.pointer import (
    DbSource,
    ImportSource,
    Out,
    Pointer,
    UrlSource,
    dump_pointer,
    parse_pointer,
)

names = st.text(min_size=1, max_size=12).filter(
    lambda n: is_valid_name(n) and n.strip() == n and n.isprintable()
    and not is_reserved(n))  # (.git, .mlvc in any case: refused, see test_a_pointer_into_git_or_mlvc_is_refused)
oids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@st.composite
def pointers(draw):
    folder = draw(st.lists(names, max_size=2).map("/".join))
    outs = []
    for name in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        path = f"{folder}/{name}" if folder else name
        assume(not (path[1:2] == ":" and path[0].isalpha()))  # 'C:...' is refused as absolute
        kind = draw(st.sampled_from(["file", "dir"]))
        outs.append(Out(path, draw(oids), kind, draw(st.integers(0, 2**50)),
                        draw(st.integers(0, 10**6)) if kind == "dir" else 1,
                        draw(st.booleans()) if kind == "file" else False))
    first = outs[0].path
    return Pointer(first + ".mlvc", tuple(outs))


@given(pointers())
def test_pointer_round_trips(pointer):
    assert parse_pointer(dump_pointer(pointer), pointer.path) == pointer


option_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: "secret" not in k and "key" not in k and "password" not in k
    and "token" not in k)


@given(st.text(min_size=1).filter(str.strip), st.text(min_size=1).filter(str.strip),
       st.dictionaries(option_names, st.text(max_size=20), max_size=3))
def test_an_import_urls_source_and_fs_config_round_trip(url, fingerprint, config):
    from mlvc.config import is_secret

    assume(not any(is_secret(k) for k in config))
    pointer = Pointer("a.mlvc", (Out("a", "a" * 32, "file", 1),),
                      UrlSource(url, fingerprint, tuple(sorted(config.items()))))
    assert parse_pointer(dump_pointer(pointer), pointer.path) == pointer


shas = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)


@given(names, st.sampled_from(["url", "repo", "db"]), st.text(max_size=12),
       st.one_of(st.none(), shas),
       st.one_of(st.none(), names.filter(lambda n: not n.startswith("-"))))  # (git options)
def test_a_pending_import_round_trips(name, kind, fingerprint, lock, rev):
    # An import recorded without its data (--no-download, --no-exec): its one output has no
    # oid; what was read of the source (a fingerprint, a commit) is there or not.
    assume(not (name[1:2] == ":" and name[0].isalpha()))  # ('C:...' is absolute)
    source = UrlSource("s3://b/" + name, fingerprint.strip()) if kind == "url" else \
        DbSource("shop", None, name) if kind == "db" else ImportSource("../reg", name, rev, lock)
    pointer = Pointer(name + ".mlvc", (), source, name)
    text = dump_pointer(pointer)
    assert set(yaml.safe_load(text)["outs"][0]) == {"path", "hash"}  # (no oid, type, size)
    assert parse_pointer(text, pointer.path) == pointer
    assert pointer.imported_path == name


@pytest.mark.parametrize("text, match", [
    # an output with no oid and no import to get it from
    ("schema: 1\nouts:\n- {path: a, hash: xxh128}\n", "oid"),
    # an import whose source was never read cannot record data read from it
    ("schema: 1\nouts:\n- {path: a, hash: xxh128, oid: " + "a" * 32 + ", type: file, "
     "size: 1}\nimport_url: {url: 's3://b/a'}\n", "not read yet"),
    ("schema: 1\nouts:\n- {path: a, hash: xxh128, oid: " + "a" * 32 + ", type: file, "
     "size: 1}\nimport: {url: ../r, path: a}\n", "not read yet"),
    # a pending output and another
    ("schema: 1\nouts:\n- {path: a, hash: xxh128}\n- {path: b, hash: xxh128}\n"
     "import_url: {url: 's3://b/a'}\n", "one output"),
])
def test_a_pending_import_is_recorded_one_way(text, match):
    with pytest.raises(FormatError, match=match):
        parse_pointer(text, "a.mlvc")


@given(st.one_of(
    st.tuples(st.just(""), st.text(min_size=1, max_size=20)).map(lambda v: (v,)),
    st.dictionaries(st.lists(names, min_size=1, max_size=3).map("/".join),
                    st.text(min_size=1, max_size=20), min_size=1, max_size=4).map(
        lambda d: tuple(sorted(d.items())))))
def test_an_import_urls_version_ids_round_trip(versions):
    # --version-aware: a file's version id, or each file's of a folder
    assume(all(not (p[1:2] == ":" and p[0].isalpha()) for p, _ in versions))
    pointer = Pointer("a.mlvc", (Out("a", "a" * 32, "dir", 1, 1),),
                      UrlSource("s3://b/a", "dir:x", (("version_aware", "true"),), versions))
    assert parse_pointer(dump_pointer(pointer), pointer.path) == pointer


@pytest.mark.parametrize("versions", ["{'../x': v1}", "{'/etc/x': v1}", "{'a//b': v1}",
                                      "{a: ''}", "[a]"])
def test_an_import_urls_version_ids_stay_inside_its_folder(versions):
    text = ("schema: 1\nouts:\n- {path: a, hash: xxh128, oid: " + "a" * 32 + ", type: dir, "
            "size: 1, nfiles: 1}\nimport_url: {url: 's3://b/a', fingerprint: f, "
            "versions: " + versions + "}\n")
    with pytest.raises(FormatError, match="import_url.versions"):
        parse_pointer(text, "a.mlvc")


def test_a_pointer_file_never_records_a_secret_fs_config():
    text = ("schema: 1\nouts:\n- {path: a, hash: xxh128, oid: " + "a" * 32 + ", type: file, "
            "size: 1}\nimport_url: {url: 's3://b/a', fingerprint: f, fs_config: "
            "{secret_access_key: x}}\n")
    with pytest.raises(FormatError, match="import_url.fs_config holds 'secret_access_key'"):
        parse_pointer(text, "a.mlvc")


def test_pointer_format_matches_spec():
    text = dump_pointer(Pointer("data.mlvc", (Out("data", "a" * 32, "dir", 10, 2),)))
    assert text == (f"schema: 1\nouts:\n- path: data\n  hash: xxh128\n  oid: {'a' * 32}\n"
                    "  type: dir\n  size: 10\n  nfiles: 2\n")


GOOD = "schema: 1\nouts:\n- path: {path}\n  hash: xxh128\n  oid: {oid}\n  type: file\n  size: 1\n"


@pytest.mark.parametrize("path", ["../x", "../../etc/passwd", "/etc/passwd", "a/../../b"])
def test_pointer_path_outside_project_is_refused(path):
    with pytest.raises(PathError):
        parse_pointer(GOOD.format(path=path, oid="a" * 32), "x.mlvc")


def test_pointer_path_relative_to_its_folder():
    p = parse_pointer(GOOD.format(path="../shared.bin", oid="a" * 32), "sub/x.mlvc")
    assert p.outs[0].path == "shared.bin"


@pytest.mark.parametrize("text,match", [
    ("schema: 1\nouts: [", r"x.mlvc:\d+: invalid YAML"),
    ("- a\n- b\n", "not a pointer file"),
    ("schema: 2\nouts: []\n", "unsupported schema"),
    ("schema: 1\nouts: []\n", "non-empty list"),
    (GOOD.format(path="a", oid="XYZ"), "oid"),
    (GOOD.format(path="a", oid="a" * 32).replace("xxh128", "md5"), "hash"),
    (GOOD.format(path="a", oid="a" * 32).replace("size: 1", "size: -1"), "size"),
    (GOOD.format(path="a", oid="a" * 32).replace("type: file", "type: dir"), "nfiles"),
    (GOOD.format(path="a", oid="a" * 32) + "extra: 1\n", "unknown keys"),
])
def test_malformed_pointer_names_the_file(text, match):
    with pytest.raises(FormatError, match=match) as info:
        parse_pointer(text, "x.mlvc")
    assert "x.mlvc" in info.value.message
