"""Steps shared by status and checkout: read what was recorded, look at the workspace."""

from __future__ import annotations

from dataclasses import dataclass

from mlvc.errors import CorruptObjectError, ObjectMissingError
from mlvc.paths import RelPath
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import Recorded, WsView, flatten, restrict, view
from mlvc.workspace.importer import Importer
from mlvc.workspace.index import Selected
from mlvc.workspace.scan import WsFile, apply_state, run_batched


@dataclass(frozen=True, slots=True)
class Loaded:
    selected: Selected
    recorded: Recorded | None
    problem: str | None  # why the recorded tree could not be read


def load_recorded(repo: Repo, selected: list[Selected]) -> list[Loaded]:
    out = []
    validated = repo.state.valid_trees()
    read: set[str] = set()
    for s in selected:
        try:
            full = flatten(repo.cache, s.tracked.out, validated)
            read |= full.trees
            out.append(Loaded(s, restrict(full, s.within), None))
        except ObjectMissingError as exc:
            out.append(Loaded(s, None, f"not in cache ({exc.message.split(' is ')[0]})"))
        except CorruptObjectError as exc:
            out.append(Loaded(s, None, f"corrupt in cache ({exc.message})"))
    repo.state.put_valid_trees(read - validated)
    return out


def workspace_view(repo: Repo, s: Selected) -> WsView:
    node = repo.scanner.scan(s.within or s.tracked.out.path)
    return view(node, s.within)


def resolve(repo: Repo, files: list[WsFile], under: list[RelPath], jobs: int,
            progress: Progress = NULL_PROGRESS) -> None:
    """Give ``files`` oids (state DB first, then hashing) and remember what was hashed."""
    known = {}
    for path in under:
        known.update(repo.state.files_under(path))
    todo = apply_state(files, known)
    hasher = Importer(repo.root, repo.cache, repo.linker, save=False)
    rows = []
    for f, imp in zip(todo, run_batched(todo, hasher.run, jobs, progress, "Hashing")):
        f.oid = imp.oid
        rows.append((f.path, imp.state))
    repo.state.put_files(rows)
