"""``mlvc.lock``: what each stage last ran with (SPEC 2.4). Parse, validate, serialise.

The file is deterministic: stages in ``mlvc.yaml`` order, deps and outs sorted by path,
params sorted by file and key, and a fixed key order, so it diffs and merges cleanly. A
folder is told from a file by its ``nfiles``. Outputs kept in git (``cache: false``) say so,
so that the lock alone tells which objects a revision keeps in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlvc.errors import FormatError, PathError
from mlvc.fsutil import atomic_write
from mlvc.objects.oid import HASH_NAME, is_oid
from mlvc.paths import RelPath, normalize_rel, to_fs
from mlvc.pipeline.model import LOCK_FILE
from mlvc.workspace.pointer import Out
from mlvc.yamlio import parse_yaml

SCHEMA = 1
ENTRY_KEYS = ("cmd", "deps", "params", "outs")


@dataclass(frozen=True, slots=True)
class LockEntry:
    name: str
    cmd: tuple[str, ...]
    deps: tuple[Out, ...] = ()
    params: dict[RelPath, dict[str, object]] = field(default_factory=dict)
    outs: tuple[Out, ...] = ()
    uncached: frozenset[RelPath] = frozenset()  # outputs kept in git, not in the cache
    unpushed: frozenset[RelPath] = frozenset()  # outputs that never travel (`push: false`)

    def normalized(self) -> LockEntry:
        return LockEntry(
            self.name, tuple(self.cmd), tuple(sorted(self.deps, key=lambda o: o.path)),
            {f: dict(sorted(v.items())) for f, v in sorted(self.params.items())},
            tuple(sorted(self.outs, key=lambda o: o.path)), frozenset(self.uncached),
            frozenset(self.unpushed))

    def cached_outs(self) -> tuple[Out, ...]:
        return tuple(o for o in self.outs if o.path not in self.uncached)


def _record(o: Out, cache: bool = True, push: bool = True) -> dict:
    doc: dict = {"path": o.path, "hash": HASH_NAME, "oid": o.oid, "size": o.size}
    if o.type == "dir":
        doc["nfiles"] = o.nfiles
    if o.exec:
        doc["exec"] = True
    if not cache:
        doc["cache"] = False
    if not push:
        doc["push"] = False
    return doc


def dump_lock(entries: list[LockEntry]) -> str:
    import yaml

    stages = {}
    for e in entries:
        e = e.normalized()
        doc: dict = {"cmd": e.cmd[0] if len(e.cmd) == 1 else list(e.cmd)}
        if e.deps:
            doc["deps"] = [_record(d) for d in e.deps]
        if e.params:
            doc["params"] = e.params
        if e.outs:
            doc["outs"] = [_record(o, o.path not in e.uncached, o.path not in e.unpushed)
                           for o in e.outs]
        stages[e.name] = doc
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump({"schema": SCHEMA, "stages": stages}, Dumper=dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=None, width=1 << 20)


def parse_lock(text: str, origin: str = LOCK_FILE) -> dict[str, LockEntry]:
    def bad(why: str) -> FormatError:
        return FormatError(f"{origin}: {why}",
                           hint=f"restore {origin} from git, or delete it and run `mlvc repro`")

    doc = parse_yaml(text, origin)
    if doc is None:
        return {}
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise bad(f"not a lock file of schema {SCHEMA}")
    if set(doc) - {"schema", "stages"}:
        raise bad(f"unknown keys {sorted(set(doc) - {'schema', 'stages'})}")
    raw_stages = doc.get("stages") or {}
    if not isinstance(raw_stages, dict):
        raise bad("'stages' must be a mapping")
    entries = {}
    for name, raw in raw_stages.items():
        where = f"stage '{name}'"
        if not isinstance(name, str) or not isinstance(raw, dict):
            raise bad(f"{where} must be a mapping")
        if set(raw) - set(ENTRY_KEYS):
            raise bad(f"{where}: unknown keys {sorted(set(raw) - set(ENTRY_KEYS))}")
        cmd = raw.get("cmd")
        cmds = (cmd,) if isinstance(cmd, str) else cmd
        if not isinstance(cmds, (list, tuple)) or not cmds or not all(
                isinstance(c, str) for c in cmds):
            raise bad(f"{where}: cmd must be a command or a list of commands")
        params = raw.get("params") or {}
        if not isinstance(params, dict) or not all(
                isinstance(k, str) and isinstance(v, dict) for k, v in params.items()):
            raise bad(f"{where}: params must map files to {{key: value}}")
        deps, _, _ = _records(raw.get("deps"), f"{where}: deps", bad)
        outs, uncached, unpushed = _records(raw.get("outs"), f"{where}: outs", bad)
        for f in params:
            try:
                normalize_rel(f, origin=origin)
            except PathError as exc:
                raise bad(f"{where}: params: {exc.message}") from None
        entries[name] = LockEntry(name, tuple(cmds), deps, params, outs, frozenset(uncached),
                                  frozenset(unpushed))
    return entries


def _records(raw: object, where: str, bad
             ) -> tuple[tuple[Out, ...], set[RelPath], set[RelPath]]:
    """The records, and the paths marked ``cache: false`` and ``push: false``."""
    if raw is None:
        return (), set(), set()
    if not isinstance(raw, list):
        raise bad(f"{where} must be a list")
    out, uncached, unpushed = [], set(), set()
    for i, r in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(r, dict):
            raise bad(f"{at} must be a mapping")
        extra = set(r) - {"path", "hash", "oid", "size", "nfiles", "exec", "cache", "push"}
        if extra:
            raise bad(f"{at}: unknown keys {sorted(extra)}")
        try:
            path = normalize_rel(r.get("path", ""), origin=f"{LOCK_FILE}: {at}")
        except PathError as exc:
            raise PathError(exc.message) from None
        if not path:
            raise bad(f"{at}: the path points at the project folder")
        if r.get("hash") != HASH_NAME or not is_oid(r.get("oid")):
            raise bad(f"{at}: needs hash: {HASH_NAME} and a 32-digit oid")
        size, nfiles = r.get("size"), r.get("nfiles")
        if not _count(size) or (nfiles is not None and not _count(nfiles)):
            raise bad(f"{at}: size and nfiles must be non-negative integers")
        if not all(isinstance(r.get(k, True), bool) for k in ("exec", "cache", "push")):
            raise bad(f"{at}: exec, cache and push must be true or false")
        kind = "dir" if nfiles is not None else "file"
        out.append(Out(path, r["oid"], kind, size, nfiles if kind == "dir" else 1,
                       bool(r.get("exec", False)) and kind == "file"))
        if r.get("cache") is False:
            uncached.add(path)
        if r.get("push") is False:
            unpushed.add(path)
    return tuple(out), uncached, unpushed


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def load_lock(root: Path) -> dict[str, LockEntry]:
    try:
        text = to_fs(root, LOCK_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise FormatError(f"{LOCK_FILE}: not UTF-8 text") from None
    return parse_lock(text)


def write_lock(root: Path, entries: list[LockEntry]) -> None:
    path = to_fs(root, LOCK_FILE)
    text = dump_lock(entries)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic_write(path, text)
