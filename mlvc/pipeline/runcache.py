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


class RunCache:
    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / "runs"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:]

    def get(self, key: str) -> tuple[Out, ...] | None:
        try:
            doc = json.loads(self._path(key).read_bytes())
            outs = []
            for r in doc["outs"]:
                path = normalize_rel(r["path"])
                kind = r["type"]
                if not is_oid(r["oid"]) or kind not in ("file", "dir") or not path:
                    return None
                outs.append(Out(path, r["oid"], kind, int(r["size"]), int(r["nfiles"]),
                                bool(r["exec"])))
            return tuple(outs)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, MlvcError):
            return None  # no record, or one that cannot be trusted: run the stage

    def put(self, key: str, outs: list[Out]) -> None:
        doc = {"outs": [{"path": o.path, "oid": o.oid, "type": o.type, "size": o.size,
                         "nfiles": o.nfiles, "exec": o.exec} for o in outs]}
        atomic_write(self._path(key), json.dumps(doc, sort_keys=True))
