"""``mlvc move``: rename a tracked output together with its pointer file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import TargetError
from mlvc.ops import inside_hint, record_in_git, user_paths
from mlvc.ops.add import check_pointers_kept
from mlvc.paths import RelPath, check_inside, is_within, name, to_fs
from mlvc.pipeline.loader import load_pipeline
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import (
    Pointer,
    check_pointer_name,
    load_pointer,
    pointer_path_for,
    write_pointer,
)
from mlvc.workspace.state import FileState


@dataclass(frozen=True, slots=True)
class MoveResult:
    src: RelPath
    dst: RelPath
    old_pointer: RelPath
    new_pointer: RelPath
    git_files: tuple[RelPath, ...]
    staged: bool = False
    # (stage, dep) of each stage dep at or inside SRC: mlvc.yaml still names the old path
    stale_deps: tuple[tuple[str, RelPath], ...] = ()

    def to_json(self) -> dict:
        return {"src": self.src, "dst": self.dst, "old_pointer": self.old_pointer,
                "new_pointer": self.new_pointer, "git_files": list(self.git_files),
                "staged": self.staged,
                "stale_deps": [{"stage": s, "dep": d} for s, d in self.stale_deps]}


def move(repo: Repo, src: str, dst: str, *, cwd: Path | None = None) -> MoveResult:
    (src_path, dst_path), here = user_paths(repo, [src, dst], cwd)
    index = Index.load(repo.root, repo.ignore, here=here)
    tracked = next((t for t in index.tracked()
                    if src_path in (t.out.path, t.pointer)), None)
    if tracked is None and any(src_path in (p.path, p.pending) for p in index.pending()):
        raise TargetError(f"'{src}' is an import recorded without its data: nothing to move "
                          "yet", hint=f"`mlvc pull {src}` gets it first; or import it again "
                                      "at the new place (and `mlvc remove` this one)")
    if tracked is None:
        raise TargetError(f"'{src}' is not a tracked output",
                          hint=inside_hint(index, src_path, "move {} DST", here)
                          or "`mlvc status` lists them")
    if tracked.stage is not None:
        raise TargetError(f"'{tracked.out.path}' is an output of stage '{tracked.stage}'",
                          hint="change the output's path in mlvc.yaml and run `mlvc repro`")
    pointer = index.pointers[tracked.pointer]
    if len(pointer.outs) != 1:
        raise TargetError(f"{tracked.pointer} tracks several outputs; move them one by one")
    src_path = tracked.out.path
    dst_fs = to_fs(repo.root, dst_path)
    if dst_fs.is_dir():
        dst_path = f"{dst_path}/{name(src_path)}" if dst_path else name(src_path)
        dst_fs = to_fs(repo.root, dst_path)
    check_inside(repo.root, dst_path)
    if dst_path:
        check_pointer_name(dst_path)
        gitignore.check_writable(repo.root, dst_path, here=here)
        gitignore.check_writable(repo.root, src_path, new=False, here=here)
    if not dst_path or os.path.lexists(dst_fs) or os.path.lexists(
            to_fs(repo.root, pointer_path_for(dst_path))):
        raise TargetError(f"'{dst_path or '.'}' exists already")
    if is_within(dst_path, src_path):
        raise TargetError(f"cannot move '{src_path}' into itself")
    for other in index.overlap_finder()(dst_path):
        if other.out.path != src_path:
            raise TargetError(f"'{dst_path}' overlaps '{other.out.path}' ({other.pointer})")
    if repo.ignore.is_ignored(dst_path, tracked.out.type == "dir"):
        # (As `add` refuses: every command would then pass the output and its pointer by.)
        raise TargetError(f"'{dst_path}' is ignored by .mlvcignore",
                          hint="move it elsewhere, or remove the matching rule from "
                               ".mlvcignore")
    if repo.scm is not None and repo.scm.tracked([dst_path]):
        raise TargetError(f"'{dst_path}' is tracked by git")
    check_pointers_kept(repo, [pointer_path_for(dst_path)], here)

    new_pointer = pointer_path_for(dst_path)
    with repo.lock():
        src_fs = to_fs(repo.root, src_path)
        rows = repo.state.files_under(src_path)
        if os.path.lexists(src_fs):
            dst_fs.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src_fs, dst_fs)
        out = tracked.out
        moved = type(out)(dst_path, out.oid, out.type, out.size, out.nfiles, out.exec)
        source = load_pointer(repo.root, tracked.pointer).source  # (an import stays one)
        write_pointer(repo.root, Pointer(new_pointer, (moved,), source))
        to_fs(repo.root, tracked.pointer).unlink()
        git_files = [tracked.pointer, new_pointer]
        for gi in (gitignore.remove(repo.root, src_path), gitignore.add(repo.root, dst_path)):
            if gi:
                git_files.append(gi)
        repo.state.delete_files(rows)
        repo.state.delete_marks([src_path])
        repo.state.put_files((dst_path + p[len(src_path):], FileState(*r))
                             for p, r in rows.items())
    git = record_in_git(repo, git_files)
    return MoveResult(src_path, dst_path, tracked.pointer, new_pointer, git.files, git.staged,
                      load_pipeline(repo.root).deps_within([src_path]))
