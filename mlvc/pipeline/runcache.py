"""The run cache: a stage's exact inputs (cmd, dep oids, param values) -> the outputs they gave.

Records live next to the objects in the cache folder, under ``runs/<key[:2]>/<key[2:]>``, as
small JSON files written atomically. Their outputs are ordinary cache objects. A record is
validated when read, like anything else from disk.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlvc.errors import MlvcError
from mlvc.fsutil import atomic_write
from mlvc.objects.oid import hash_bytes, is_oid
from mlvc.paths import normalize_rel
from mlvc.pipeline.model import Stage
from mlvc.workspace.pointer import Out


def run_key(stage: Stage, deps: list[Out], params: dict[str, dict[str, object]]) -> str:
    doc = {
        "cmd": list(stage.cmd),
        "wdir": stage.wdir,
        "deps": sorted([d.path, d.oid, d.exec] for d in deps),
        "params": {f: dict(sorted(v.items())) for f, v in sorted(params.items())},
        "outs": sorted([o.path, o.cache] for o in stage.outs),
    }
    return hash_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                 default=repr).encode())


def parse_record(data: bytes) -> tuple[Out, ...] | None:
    """The outputs a record names, or None for a record that cannot be trusted."""
    try:
        doc = json.loads(data)
        outs = []
        for r in doc["outs"]:
            path = normalize_rel(r["path"])
            kind = r["type"]
            if not is_oid(r["oid"]) or kind not in ("file", "dir") or not path:
                return None
            outs.append(Out(path, r["oid"], kind, int(r["size"]), int(r["nfiles"]),
                            bool(r["exec"])))
        return tuple(outs)
    except (ValueError, KeyError, TypeError, AttributeError, MlvcError):
        return None


def dump_record(outs: list[Out] | tuple[Out, ...]) -> bytes:
    doc = {"outs": [{"path": o.path, "oid": o.oid, "type": o.type, "size": o.size,
                     "nfiles": o.nfiles, "exec": o.exec} for o in outs]}
    return json.dumps(doc, sort_keys=True).encode()


def is_key(name: str) -> bool:
    return is_oid(name)


class RunCache:
    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / "runs"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:]

    def get(self, key: str) -> tuple[Out, ...] | None:
        try:
            return parse_record(self._path(key).read_bytes())
        except OSError:
            return None  # no record: run the stage

    def put(self, key: str, outs: list[Out] | tuple[Out, ...]) -> None:
        atomic_write(self._path(key), dump_record(outs))

    def delete(self, key: str) -> None:
        """Drop a record (``gc``, when its outputs lose an object); gone already is fine."""
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def keys(self) -> set[str]:
        found = set()
        if not self.root.is_dir():
            return found
        for prefix in self.root.iterdir():
            if len(prefix.name) == 2 and prefix.is_dir():
                for entry in prefix.iterdir():
                    if is_key(prefix.name + entry.name):
                        found.add(prefix.name + entry.name)
        return found

    def records(self) -> dict[str, tuple[Out, ...]]:
        """Every readable record; unreadable ones are left out."""
        out = {}
        for key in sorted(self.keys()):
            outs = self.get(key)
            if outs is not None:
                out[key] = outs
        return out
