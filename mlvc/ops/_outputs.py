"""Steps shared by status and checkout: read what was recorded, look at the workspace."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from mlvc.errors import CorruptObjectError, ObjectMissingError
from mlvc.parallel import run_batched
from mlvc.paths import RelPath
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import (
    Recorded,
    decode_listing,
    encode_listing,
    flatten,
    restrict,
)
from mlvc.workspace.importer import Importer
from mlvc.workspace.index import Selected
from mlvc.workspace.scan import WsFile, known_oids


@dataclass(frozen=True, slots=True)
class Loaded:
    selected: Selected
    recorded: Recorded | None
    problem: str | None  # why the recorded tree could not be read


class _ValidTrees:
    """``oid in valid`` asks the state DB about that one manifest (lazily, as trees are read)."""

    def __init__(self, repo: Repo) -> None:
        self.state = repo.state

    def __contains__(self, oid: object) -> bool:
        return isinstance(oid, str) and bool(self.state.valid_trees([oid]))


def valid_trees(repo: Repo) -> Container[str]:
    """The manifests that passed validation before, asked of the state DB one by one."""
    return _ValidTrees(repo)


def load_recorded(repo: Repo, selected: list[Selected]) -> list[Loaded]:
    out = []
    validated = _ValidTrees(repo)
    read: set[str] = set()
    for s in selected:
        try:
            full = _flatten_cached(repo, s, validated)
            read |= full.trees
            out.append(Loaded(s, restrict(full, s.within), None))
        except ObjectMissingError as exc:
            out.append(Loaded(s, None, f"not in cache ({exc.message.split(' is ')[0]})"))
        except CorruptObjectError as exc:
            out.append(Loaded(s, None, f"corrupt in cache ({exc.message})"))
    repo.state.put_valid_trees(read)  # every manifest read has passed validation by now
    return out


def _flatten_cached(repo: Repo, s: Selected, validated: Container[str]) -> Recorded:
    """Flatten an output's recorded tree, through the state DB's cache of listings.

    A listing is keyed by the tree's oid, so it can never be stale. The manifests' bytes are
    still required to be in the cache: a listing never stands in for a missing object.
    """
    out = s.tracked.out
    if out.type != "dir":
        return flatten(repo.cache, out, validated)
    cached = repo.state.listing(out.oid)
    if cached is not None:
        rec = decode_listing(cached, out.path)
        if all(repo.cache.exists(t) for t in rec.trees):
            return rec
    rec = flatten(repo.cache, out, validated)
    repo.state.put_listing(out.oid, encode_listing(rec, out.path))
    return rec


def resolve(repo: Repo, files: list[WsFile], under: list[RelPath], jobs: int,
            progress: Progress = NULL_PROGRESS) -> None:
    """Give ``files`` oids (state DB first, then hashing) and remember what was hashed."""
    if not files:
        return
    todo = known_oids(repo.state, files, under)
    hasher = Importer(repo.root, repo.cache, repo.linker, save=False)
    rows = []
    for f, imp in zip(todo, run_batched(todo, hasher.run, jobs, progress, "Hashing")):
        f.oid = imp.oid
        f.key = imp.state.key  # as it was when read (the scan may be older)
        rows.append((f.path, imp.state))
    repo.state.put_files(rows)
