"""Data commands: add, status, commit, checkout, remove, move, unprotect.

Each one parses its options, calls one op and renders the result.
"""

from __future__ import annotations

import click

from mlvc.cli.render import (
    LIST_LIMIT,
    asking,
    count,
    echo,
    echo_json,
    echo_list,
    git_hint,
    here,
    human_size,
    jobs_option,
    json_option,
    open_repo,
    printable,
    progress,
    settings,
    shown,
    target_options,
    to_remote_options,
)


def no_relink_option(f):
    return click.option(
        "--no-relink", is_flag=True,
        help="Leave the files as they are: with cache.type hardlink or symlink, the cache "
             "gets copies and the files do not become links to it (as DVC's).")(f)


@click.command("add")
@click.argument("targets", nargs=-1, required=True)
@click.option("--no-commit", is_flag=True,
              help="Write the pointer files but do not copy the data into the cache.")
@click.option("-o", "--out", metavar="OUT",
              help="TARGET is a file or folder outside the project: copy it into the cache "
                   "and track it at OUT (as `dvc add -o`).")
@click.option("-f", "--force", is_flag=True, help="With -o: replace OUT if it exists.")
@to_remote_options("TARGET (with -o)", remote_jobs=True)
@click.option("--glob", is_flag=True,
              help="TARGETS may be shell-style patterns ('data/*.csv', 'raw/**/*.jpg'; "
                   "quoted), expanded here as a shell would.")
@no_relink_option
@json_option
def add_cmd(targets, no_commit, out, force, to_remote, remote, jobs, glob, no_relink,
            as_json):
    """Track files or folders: hash them into the cache and write TARGET.mlvc.

    Each TARGET is also added to the .gitignore next to it, so git keeps only the pointer.
    With -o, TARGET is outside the project (another disk, a mount): it is copied straight
    into the cache and checked out at OUT, and stays where it is.
    """
    from mlvc.ops.add import add

    if (force or to_remote) and out is None:
        raise click.UsageError("-f/--force and --to-remote go with -o/--out")
    if remote and not to_remote:
        raise click.UsageError("-r/--remote goes with --to-remote")
    if no_relink and out is not None:
        raise click.UsageError("--no-relink: with -o, TARGET is copied (it stays where it is)")
    if glob:
        targets = _globbed(targets)
    if out is not None:
        _add_from(targets, out, no_commit, force, to_remote, remote, jobs, as_json)
        return
    with open_repo() as repo:
        result = add(repo, list(targets), cwd=settings().cwd, no_commit=no_commit, jobs=jobs,
                     link=not no_relink, progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    for s in result.saved[:LIST_LIMIT]:
        what = f"{count(s.out.nfiles, 'file')}, " if s.out.type == "dir" else ""
        echo(f"Added {shown(s.out.path)} ({what}{human_size(s.out.size)}) -> {shown(s.pointer)}")
    _more(result.saved, "Added")
    _repaired(result)
    git_hint(repo.root, result)


def _globbed(targets) -> list[str]:
    """``add --glob``: each pattern expanded as a shell would (``**`` across folders, no
    hidden names unless asked), from the current folder; one that matches nothing is an
    error."""
    import glob

    from mlvc.ops import GLOB_CHARS

    out: list[str] = []
    for t in targets:
        if not any(c in t for c in GLOB_CHARS):
            out.append(t)
            continue
        hits = sorted(glob.glob(t, root_dir=settings().cwd, recursive=True))
        if not hits:
            from mlvc.errors import TargetError

            raise TargetError(f"'{t}' matches no file or folder here",
                              hint="patterns are read from the current folder")
        out += hits
    return list(dict.fromkeys(out))


def _add_from(targets, out, no_commit, force, to_remote, remote, jobs, as_json) -> None:
    from mlvc.ops.add import add_from

    if len(targets) != 1:
        raise click.UsageError("-o/--out takes one TARGET")
    if no_commit:
        raise click.UsageError("--no-commit does not go with -o/--out (the data goes to the "
                               "cache on its way in)")
    with open_repo() as repo:
        result = add_from(repo, targets[0], out, cwd=settings().cwd, force=force, jobs=jobs,
                          to_remote=to_remote, remote=remote, progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    what = f"{count(result.out.nfiles, 'file')}, " if result.out.type == "dir" else ""
    echo(f"Added {printable(result.source)} as {shown(result.out.path)} "
         f"({what}{human_size(result.out.size)}) -> {shown(result.pointer)}")
    if result.remote is not None:
        echo(f"Sent {count(result.sent, 'object')} to remote '{printable(result.remote)}', "
             f"none to the cache: `mlvc pull {shown(result.out.path)}` gets it.")
    git_hint(repo.root, result)


def _repaired(result) -> None:
    """Say when files were stored again because their cache objects were lost or bad, and
    when unchanged copies were linked to the cache again."""
    n = sum(s.repaired for s in result.saved)
    if n:
        echo(f"Stored {count(n, 'file')} again: the cache's copy was missing or corrupt.")
    n = sum(s.relinked for s in result.saved)
    if n:
        echo(f"Linked {count(n, 'unchanged file')} to the cache as cache.type asks (they "
             "were private copies, as `mlvc unprotect` makes them, or placed another way).")


def _more(items, verb: str) -> None:
    """After the first LIST_LIMIT lines of a long list: how many more, and their size."""
    rest = items[LIST_LIMIT:]
    if rest:
        size = human_size(sum(s.out.size for s in rest))
        echo(f"{verb} {count(len(rest), 'more output')} ({size}); `--json` lists them all")


@click.command("commit")
@click.argument("targets", nargs=-1)
@click.option("-f", "--force", is_flag=True,
              help="Record a stage even if its cmd, deps or params changed since it ran.")
@target_options
@jobs_option
@no_relink_option
@json_option
def commit_cmd(targets, force, with_deps, jobs, no_relink, as_json):
    """Record the current workspace state of tracked outputs into the cache and pointers.

    For a stage output, the stage is recorded in mlvc.lock as if it had just run. If its
    cmd, deps or params changed since it last ran, its outputs were not made from them:
    mlvc asks first (on a terminal) or refuses, unless --force. Naming an output of a
    stage that has never run (you ran its command yourself) records that stage too.
    """
    from mlvc.ops.commit import commit

    with open_repo() as repo:
        result = asking(lambda forced: commit(
            repo, list(targets), cwd=settings().cwd, force=forced, jobs=jobs,
            with_deps=with_deps, link=not no_relink, progress=progress()), force,
            "Commit anyway?")
    if as_json:
        echo_json(result.to_json())
        return
    changed = [s for s in result.saved if s.changed]
    for s in changed[:LIST_LIMIT]:
        echo(f"Committed {shown(s.out.path)} -> {shown(s.pointer)}")
    _more(changed, "Committed")
    filled = sum(s.newly_stored for s in result.saved)
    if not changed and filled:
        echo(f"Stored {count(filled, 'file')} in the cache; the pointers already matched the "
             "workspace.")
    elif not changed and not any(s.relinked for s in result.saved):
        echo("Nothing to commit: the pointers already match the workspace.")
    _repaired(result)
    for d in result.not_run:
        echo(f"Left alone: {shown(d.path)}, an output of stage '{printable(d.stage)}', "
             f"which has not run yet.\n  {printable(d.hint(here()))}")
    git_hint(repo.root, result)


@click.group("data")
def data_cmd():
    """The tracked data as a whole: `mlvc data status`."""


@data_cmd.command("status")
@click.option("--granular", is_flag=True,
              help="The files inside changed folders, not only the folders.")
@click.option("--unchanged", is_flag=True, help="Also list the outputs that did not change.")
@click.option("--untracked-files", "untracked", is_flag=True,
              help="Also list the files neither git nor mlvc tracks (git's own ignores "
                   "apply).")
@click.option("--not-in-remote", is_flag=True,
              help="Also list the data the remote lacks (asks the remote).")
@click.option("--no-remote-refresh", is_flag=True,
              help="With --not-in-remote: do not ask the remote; answer from what it was "
                   "last seen to have (by push, fetch, status -c).")
@click.option("-r", "--remote", metavar="NAME",
              help="Remote for --not-in-remote (default: core.remote).")
@jobs_option
@json_option
def data_status_cmd(granular, unchanged, untracked, not_in_remote, no_remote_refresh, remote,
                    jobs, as_json):
    """Show the tracked data as `git status` shows files (as `dvc data status`).

    \b
    Not in cache:         recorded data the cache lacks (`mlvc fetch` gets it).
    Committed changes:    recorded in pointer files or mlvc.lock, not yet in git's HEAD.
    Uncommitted changes:  the workspace differs from the record (`mlvc commit`).
    Exit code 0 either way (use `mlvc status -q` in scripts that must fail on changes).
    """
    from mlvc.ops.data_status import data_status

    for given, name in ((remote, "-r/--remote"), (no_remote_refresh, "--no-remote-refresh")):
        if given and not not_in_remote:
            raise click.UsageError(f"{name} goes with --not-in-remote")
    with open_repo() as repo:
        result = data_status(repo, granular=granular, untracked=untracked,
                             unchanged=unchanged, not_in_remote=not_in_remote, remote=remote,
                             refresh=not no_remote_refresh, jobs=jobs, progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    sections = [
        ("Not in cache", "`mlvc fetch` gets them from the remote",
         [("", p) for p in result.not_in_cache]),
        ("Committed changes", "recorded, not in git's HEAD: `git commit` the pointer files "
                              "and mlvc.lock", [(c.kind, _moved(c)) for c in result.committed]),
        ("Uncommitted changes", "`mlvc commit` records them; `mlvc checkout` puts back the "
                                "recorded data", [(c.kind, _moved(c)) for c in result.uncommitted]),
        ("Untracked files", "`git add` or `mlvc add` them",
         [("", p) for p in result.untracked or ()]),
        (f"Not on remote '{printable(result.remote or '')}'", "`mlvc push` sends them",
         [("", p) for p in result.not_in_remote or ()]),
        ("Unchanged", "", [("", p) for p in result.unchanged or ()]),
    ]
    said = False
    for title, hint_text, rows in sections:
        if not rows:
            continue
        if said:
            echo("")
        echo(f"{title}:" + (f"\n  ({hint_text})" if hint_text else ""))
        for kind, path in rows[:LIST_LIMIT * 10]:
            echo(f"        {kind + ': ' if kind else ''}{printable(path)}")
        if len(rows) > LIST_LIMIT * 10:
            echo(f"        … and {len(rows) - LIST_LIMIT * 10} more (`--json` lists them all)")
        said = True
    for why in result.unknown:
        click.echo(f"warning: {printable(why)}", err=True)
    if not said:
        echo("No changes.")


def _moved(change) -> str:
    return f"{change.old} -> {change.path}" if change.old else change.path


NAMED_TARGETS = 5  # up to this many, a clean status names its targets


@click.command("status")
@click.argument("targets", nargs=-1)
@click.option("-q", "--quiet", "quiet", is_flag=True,
              help="Print nothing; exit with 1 when anything differs (so does `mlvc -q "
                   "status`).")
@click.option("-c", "--cloud", is_flag=True,
              help="Compare the cache with a remote instead: what it lacks, what the cache lacks.")
@click.option("-r", "--remote", metavar="NAME", help="Remote for --cloud (default: core.remote).")
@click.option("-a", "--all-branches", is_flag=True,
              help="With --cloud: also the data of every git branch.")
@click.option("-T", "--all-tags", is_flag=True, help="With --cloud: also every git tag's.")
@click.option("-A", "--all-commits", is_flag=True,
              help="With --cloud: also every commit's of the git history.")
@click.option("--no-updates", is_flag=True,
              help="Do not ask imported data's sources whether they moved (no network; the "
                   "pre-commit hook's way).")
@target_options
@jobs_option
@json_option
def status_cmd(targets, quiet, cloud, remote, all_branches, all_tags, all_commits, no_updates,
               with_deps, jobs, as_json):
    """Show how the workspace and the cache differ from what the pointers record.

    TARGETS are tracked data (a pointer file, an output, a path in a tracked folder) or
    stage names, which stand for a stage's cached outputs; without them, everything.
    Imported data's sources (`mlvc import`, `import-url`) are asked whether they moved,
    unless --no-updates.
    """
    s = settings()
    quiet = quiet or s.quiet  # printing nothing, the exit code is all that is left to say
    if remote and not cloud:
        raise click.UsageError("-r/--remote goes with -c/--cloud")
    if (all_branches or all_tags or all_commits) and not cloud:
        raise click.UsageError("-a, -T and -A go with -c/--cloud")
    if cloud:
        from mlvc.ops.status import cloud_status

        with open_repo() as repo:
            cresult = cloud_status(repo, list(targets), cwd=s.cwd, remote=remote, jobs=jobs,
                                   all_branches=all_branches, all_tags=all_tags,
                                   all_commits=all_commits, with_deps=with_deps,
                                   progress=progress(quiet))
        if as_json:
            echo_json(cresult.to_json())
        elif not quiet:
            _report_cloud(cresult)
        if quiet and not cresult.clean:
            raise SystemExit(1)
        return
    from mlvc.ops.status import status

    with open_repo() as repo:
        result = status(repo, list(targets), cwd=s.cwd, jobs=jobs,
                        progress=progress(quiet), sources=not no_updates,
                        with_deps=with_deps)
    if result.unsaved and not quiet:
        click.echo(f"warning: could not remember what this status learned in "
                   f".mlvc/tmp/state.db ({printable(result.unsaved)}): the next command "
                   "hashes those files again", err=True)
    if not quiet:
        for check in result.sources:
            if check.error:
                click.echo(f"warning: could not ask {printable(check.url)} whether "
                           f"{shown(check.path)} moved: {printable(check.error)}", err=True)
    if as_json:
        echo_json(result.to_json())
    elif not quiet:
        if not result.outs and not result.stages and result.hidden_pointers:
            click.echo(f"warning: {count(len(result.hidden_pointers), 'pointer file')} in git "
                       f"that .mlvcignore leaves out, so mlvc passes by: "
                       + ", ".join(shown(p) for p in result.hidden_pointers[:LIST_LIMIT])
                       + (" …" if len(result.hidden_pointers) > LIST_LIMIT else ""), err=True)
            click.echo("hint: remove the .mlvcignore rule that covers them", err=True)
        elif not result.outs and not result.stages and not result.pending:
            echo("Nothing is tracked yet. Track data with `mlvc add PATH`.")
        elif result.clean and len(targets) > NAMED_TARGETS:  # (`mlvc status data/*.jpg`)
            echo(f"All {len(targets)} targets are up to date.")
        elif result.clean and targets:  # (the pipeline is checked only without targets)
            named = ", ".join(printable(t) for t in targets)
            echo(f"{named} {'is' if len(targets) == 1 else 'are'} up to date.")
        elif result.clean:
            echo("Data and pipelines are up to date.")
        for st in result.stages:
            echo(f"{st.stage} (stage):")
            for why in st.reasons[:LIST_LIMIT]:
                echo(f"  {why.seen(here())}")
            if len(st.reasons) > LIST_LIMIT:
                echo(f"  … and {len(st.reasons) - LIST_LIMIT} more; `--json` lists them all")
        for out in result.changed:
            echo(f"{shown(out.path)} ({shown(out.pointer)}):")
            if out.problem:
                echo(f"  {out.problem}")
            if out.holds_recorded:
                echo("  the workspace holds this data: `mlvc commit` stores it in the cache")
            elif out.holds_recorded is False:
                echo("  the workspace holds other data: `mlvc commit` records and stores it")
            if out.missing:
                echo_list("deleted", [out.path])
            else:
                echo_list("modified", out.modified)
                echo_list("added", out.added)
                echo_list("deleted", out.deleted)
            echo_list("not in cache", out.not_in_cache)
            echo_list("corrupt in cache", out.corrupt_in_cache)
            echo_list("another project", [d + "/" for d in out.other_projects])
            echo_list("ignored now", out.ignored)
        for check in result.sources:
            if check.moved:
                echo(f"{shown(check.path)} ({shown(check.pointer)}):")
                echo(f"  update available: {printable(check.url)}")
        for p in result.pending:
            echo(f"{shown(p.path)} ({shown(p.pointer)}):")
            echo("  not downloaded: recorded " + ("without its data (--no-download)"
                                                  if p.read else "and its source not read "
                                                                 "yet (--no-exec)"))
        hints = []
        if any(o.restorable for o in result.outs):
            hints.append("`mlvc checkout` restores recorded data")
        if any(o.committable for o in result.outs):
            hints.append("`mlvc commit` records changes")
        if any(c.moved for c in result.sources):
            hints.append("`mlvc update` brings imports up to their sources")
        if result.pending:
            hints.append("`mlvc pull` gets imports recorded without their data")
        if hints:
            echo("\n" + "; ".join(hints) + ".")
        elif any(not o.clean for o in result.outs):
            echo()
        if any(o.ignored for o in result.outs):
            echo("Files that .mlvcignore leaves out now are left alone: `mlvc commit` records "
                 "the outputs without them (or change the rule to keep them).")
        if any(o.other_projects for o in result.outs):
            echo("A recorded folder that holds another mlvc project (`mlvc init --force`) is "
                 "left alone: `mlvc commit` records the output without it.")
        # (An output's ``problem`` is always its recorded tree missing or corrupt in the
        # cache: a fresh clone before its first pull, say.)
        if any(o.corrupt_in_cache or o.not_in_cache or o.problem for o in result.outs):
            echo("`mlvc pull` gets objects missing or corrupt in the cache from a remote and "
                 "checks them out (`mlvc fetch` only downloads them).")
        # A hard link (or symlink) to its object, written in place: the object changed too.
        if any(set(o.modified) & set(o.corrupt_in_cache) for o in result.outs):
            echo("A file edited in place while linked to the cache (cache.type hardlink or "
                 "symlink) changed the cache's copy too: `mlvc unprotect` files before "
                 "editing them.")
        # A file as recorded in the workspace still holds the bytes its object lost.
        if any(p for o in result.outs for p in (*o.corrupt_in_cache, *o.not_in_cache)
               if not p.endswith("/") and p not in o.deleted and p not in o.modified):
            echo("`mlvc commit` stores them in the cache from the workspace files that hold "
                 "their bytes.")
        if result.stages:
            echo("\n`mlvc repro` runs the stages that are out of date.")
    if quiet and not result.clean:
        raise SystemExit(1)


def _report_cloud(result) -> None:
    if result.clean:
        echo(f"Cache and remote '{result.remote}' are in sync ({count(result.objects, 'object')}).")
        return
    echo(f"Compared with remote '{result.remote}' ({count(result.objects, 'object')}):")
    echo_list("not on remote", result.of("not on remote"))
    echo_list("not in cache", result.of("not in cache"))
    echo_list("missing", result.of("missing"))
    hints = []
    if result.of("not on remote"):
        hints.append("`mlvc push` uploads what the remote lacks")
    if result.of("not in cache"):
        hints.append("`mlvc fetch` downloads what the cache lacks")
    if result.of("missing"):
        hints.append("missing objects are in neither: re-add the data where it exists")
    echo("\n" + "; ".join(hints) + ".")



@click.command("checkout")
@click.argument("targets", nargs=-1)
@click.option("-f", "--force", is_flag=True,
              help="Overwrite and delete changed workspace files even if unsaved.")
@click.option("--relink", is_flag=True,
              help="Re-create every file with the current cache.type, even if unchanged.")
@click.option("--allow-missing", is_flag=True,
              help="Data the cache lacks is a warning, not an error (the rest is checked "
                   "out).")
@click.option("--summary", is_flag=True,
              help="As DVC's (for its scripts): checkout prints a summary, counts of what "
                   "changed, with or without it (--json lists every path).")
@target_options
@jobs_option
@json_option
def checkout_cmd(targets, force, relink, allow_missing, summary, with_deps, jobs, as_json):
    """Make the workspace match the pointer files, from the cache.

    TARGETS are tracked data (a pointer file, an output, a path in a tracked folder) or
    stage names, which stand for a stage's cached outputs; without them, everything.
    """
    from mlvc.ops.checkout import checkout

    with open_repo() as repo:
        result = checkout(repo, list(targets), cwd=settings().cwd, force=force, relink=relink,
                          jobs=jobs, with_deps=with_deps, progress=progress())
    skipped = ()
    if allow_missing:
        result, skipped = result.missing_allowed()
    if as_json:
        echo_json({**result.to_json(), **({"skipped": [{"path": p, "reason": r}
                                                       for p, r in skipped]}
                                          if allow_missing else {})})
    else:
        report_checkout(result)
    if skipped:
        listed = ", ".join(shown(p) for p, _ in skipped[:LIST_LIMIT])
        click.echo(f"warning: {count(len(skipped), 'path')} not in the cache, not checked out "
                   f"(--allow-missing): {listed}" + (" …" if len(skipped) > LIST_LIMIT else ""),
                   err=True)
    if not result.ok:
        raise SystemExit(1)


def report_checkout(result) -> None:
    counts = [(len(result.added), "added"), (len(result.modified), "modified"),
              (len(result.deleted), "deleted"), (len(result.relinked), "relinked")]
    done = ", ".join([*(f"{n} {what}" for n, what in counts if n),
                      *(f"{count(len(dirs), 'empty folder')} {what}"
                        for dirs, what in ((result.dirs_made, "made"),
                                           (result.dirs_removed, "removed")) if dirs)])
    for p in result.repaired[:LIST_LIMIT]:
        click.echo(f"warning: {shown(p)}: its cache object was corrupt: stored again from the "
                   "file before the checkout changed it", err=True)
    _cut(result.repaired, "warning: ")
    for p in result.ignored[:LIST_LIMIT]:
        click.echo(f"warning: {shown(p)}: left alone: .mlvcignore leaves it out now", err=True)
    _cut(result.ignored, "warning: ")
    if done:
        echo(done[:1].upper() + done[1:])
    elif result.ok and not result.ignored:
        echo("Nothing to do: the workspace matches.")
    if result.conflicts:
        click.echo(f"Kept {count(len(result.conflicts), 'file')} with unsaved changes:", err=True)
        for p in result.conflicts[:LIST_LIMIT]:
            click.echo(f"  {shown(p)}", err=True)
        _cut(result.conflicts, "  ")
    for path, reason in result.failed[:LIST_LIMIT]:
        click.echo(f"error: {shown(path)}: {printable(reason)}", err=True)
    _cut(result.failed, "error: ")
    if result.hint:
        click.echo(f"hint: {result.hint}", err=True)


def _cut(items, prefix: str) -> None:
    """After the first LIST_LIMIT lines of a list on stderr: how many were left out."""
    if len(items) > LIST_LIMIT:
        click.echo(f"{prefix}… and {len(items) - LIST_LIMIT} more; `--json` lists them all",
                   err=True)


@click.command("remove")
@click.argument("targets", nargs=-1, required=True)
@click.option("--outs", is_flag=True, help="Also delete the tracked data from the workspace.")
@click.option("-f", "--force", is_flag=True, help="With --outs: delete even unsaved changes.")
@json_option
def remove_cmd(targets, outs, force, as_json):
    """Stop tracking each TARGET (a pointer file or output): delete its pointer file.

    A TARGET that names a stage of mlvc.yaml (or a foreach/matrix group) takes it out of
    mlvc.yaml and mlvc.lock instead, with its outputs' .gitignore lines. The data stays in
    the workspace (unless --outs) and in the cache. Every target is checked before anything
    is removed.
    """
    from mlvc.ops.remove import remove

    with open_repo() as repo:
        result = asking(lambda forced: remove(repo, list(targets), cwd=settings().cwd,
                                              outs=outs, force=forced), force, "Delete anyway?")
    if as_json:
        echo_json(result.to_json())
        return
    for r in result.removed[:LIST_LIMIT]:
        if r.stage is not None:
            echo(f"Removed stage '{printable(r.stage)}' from {shown(r.pointer)}"
                 + (" and its outputs" if result.deleted_outs else ""))
            continue
        echo(f"Removed {shown(r.pointer)}" + (" and its data" if result.deleted_outs else ""))
    if len(result.removed) > LIST_LIMIT:
        echo(f"… and {count(len(result.removed) - LIST_LIMIT, 'more pointer file')}")
    if result.unprotected:
        echo(f"The data stays: {count(result.unprotected, 'file')} that linked to the cache "
             f"{'is a private copy' if result.unprotected == 1 else 'are private copies'} "
             "now, whatever becomes of the cache.")
    _stale_warnings(result)
    git_hint(repo.root, result, "To record this in git")


@click.command("move")
@click.argument("src")
@click.argument("dst")
@json_option
def move_cmd(src, dst, as_json):
    """Rename a tracked output SRC to DST, with its pointer file and .gitignore entry."""
    from mlvc.ops.move import move

    with open_repo() as repo:
        result = move(repo, src, dst, cwd=settings().cwd)
    if as_json:
        echo_json(result.to_json())
        return
    echo(f"Moved {shown(result.src)} -> {shown(result.dst)} ({shown(result.new_pointer)})")
    _stale_warnings(result)
    git_hint(repo.root, result, "To record this in git")


def _stale_warnings(result) -> None:
    for stage, dep in result.stale_deps[:LIST_LIMIT]:
        click.echo(f"warning: stage '{printable(stage)}' depends on {shown(dep)}, which is no "
                   f"longer there: change its deps in mlvc.yaml", err=True)
    _cut(result.stale_deps, "warning: ")


@click.command("unprotect")
@click.argument("paths", nargs=-1, required=True)
@jobs_option
@json_option
def unprotect_cmd(paths, jobs, as_json):
    """Make linked (read-only) tracked files writable copies, to edit them in place."""
    from mlvc.ops.unprotect import unprotect

    with open_repo() as repo:
        result = unprotect(repo, list(paths), cwd=settings().cwd, jobs=jobs,
                           progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    echo(f"Unprotected {count(len(result.unprotected), 'file')}.")


@click.command("gc")
@click.option("-w", "--workspace", is_flag=True,
              help="Keep what the workspace uses (its pointer files and mlvc.lock).")
@click.option("-a", "--all-branches", is_flag=True,
              help="Also keep what every git branch uses (local and remote-tracking).")
@click.option("-T", "--all-tags", is_flag=True, help="Also keep what every git tag uses.")
@click.option("-A", "--all-commits", is_flag=True,
              help="Also keep what every commit of the git history uses.")
@click.option("--all-experiments", is_flag=True,
              help="Also keep what every experiment (`mlvc exp`) uses.")
@click.option("--rev", "revs", multiple=True, metavar="REV",
              help="Also keep what this git revision uses (repeatable).")
@click.option("-n", "--num", type=click.IntRange(1), default=1, metavar="N",
              help="With --rev: also the N-1 commits before each (first parents).")
@click.option("--date", metavar="YYYY-MM-DD",
              help="Also keep what every commit made on that day or later uses.")
@click.option("-c", "--cloud", is_flag=True,
              help="Also delete what the kept revisions do not use from a remote.")
@click.option("--not-in-remote", is_flag=True,
              help="Delete only what the remote has too: keep the unused objects it lacks "
                   "(never pushed).")
@click.option("-r", "--remote", metavar="NAME",
              help="Remote for --cloud or --not-in-remote (default: core.remote).")
@click.option("-p", "--projects", multiple=True, metavar="PATH",
              help="Another project sharing this cache: keep what it uses too (repeatable; "
                   "needed when the cache is outside the project, `-p .` if none shares it).")
@click.option("--skip-failed", is_flag=True,
              help="A pointer or lock file of a kept revision that cannot be read is left "
                   "out with a warning (what only it uses is deleted), instead of stopping "
                   "gc.")
@click.option("--dry", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("-f", "--force", is_flag=True, help="Delete without asking.")
@jobs_option
@json_option
def gc_cmd(workspace, all_branches, all_tags, all_commits, all_experiments, revs, num, date,
           cloud, not_in_remote, remote, projects, skip_failed, dry, force, jobs, as_json):
    """Delete cache objects that none of the kept revisions uses.

    The workspace is always kept; -a, -T and -A keep every branch's, tag's or commit's data
    too, --all-experiments every experiment's (-A includes them), --rev (with -n) and --date
    those revisions' (a bare `mlvc gc` is refused: say what to keep). With -c, the remote's
    unused objects go too: it cannot know of revisions this clone has not fetched, so fetch
    them first; with --not-in-remote, only what the remote has too goes from the cache.
    Asks before deleting, unless -f; --dry only tells.
    """
    from mlvc.ops.gc import gc

    if not (workspace or all_branches or all_tags or all_commits or all_experiments or revs
            or date):
        raise click.UsageError("say what to keep: -w (the workspace), -a, -T, -A, "
                               "--all-experiments, --rev or --date")
    if num != 1 and not revs:
        raise click.UsageError("-n/--num goes with --rev")
    if remote and not (cloud or not_in_remote):
        raise click.UsageError("-r/--remote goes with -c/--cloud or --not-in-remote")
    if cloud and not_in_remote:
        raise click.UsageError("-c/--cloud deletes on the remote, --not-in-remote keeps what "
                               "it lacks: choose one")
    args = dict(workspace=workspace, all_branches=all_branches, all_tags=all_tags,
                all_commits=all_commits, all_experiments=all_experiments, cloud=cloud,
                remote=remote, dry=dry, jobs=jobs, revs=revs, num=num, date=date,
                not_in_remote=not_in_remote, skip_failed=skip_failed,
                projects=tuple(settings().cwd / p for p in projects), progress=progress())
    with open_repo() as repo:
        result = asking(lambda forced: gc(repo, force=forced, **args), force, "Delete them?")
    for why in result.skipped:
        click.echo(f"warning: --skip-failed: left out {printable(why)}", err=True)
    if as_json:
        echo_json(result.to_json())
        return
    kept = "the workspace" + (f" and {count(result.kept_revisions, 'git revision')}"
                              if result.kept_revisions else "")
    verb = "Would remove" if result.dry else "Removed"
    echo(f"Kept the {count(result.used, 'object')} that {kept} use"
         f"{'s' if not result.kept_revisions else ''}.")
    echo(f"{verb} {count(len(result.removed), 'object')} "
         f"({human_size(result.removed_bytes)}) from the cache"
         + (f", and {count(result.runs_removed, 'run-cache record')} that needed them"
            if result.runs_removed else "") + ".")
    if result.kept_unpushed:
        echo(f"Kept {count(result.kept_unpushed, 'unused object')} that the remote lacks "
             "(--not-in-remote).")
    if result.remote is not None:
        echo(f"{verb} {count(len(result.remote_removed), 'object')} from remote "
             f"'{printable(result.remote)}'.")
        if result.objects_packed:
            echo(f"Put {count(result.objects_packed, 'small object')} into packs on remote "
                 f"'{printable(result.remote)}'.")
        if result.packs_merged:
            echo(f"Merged {count(result.packs_merged, 'small pack')} into "
                 f"{result.packs_written} on remote '{printable(result.remote)}'.")


@click.command("verify")
@click.option("-c", "--cloud", is_flag=True, help="Verify the default remote, not the cache.")
@click.option("-r", "--remote", metavar="NAME", help="Verify this remote, not the cache.")
@jobs_option
@json_option
def verify_cmd(cloud, remote, jobs, as_json):
    """Re-hash every object of the cache (or of a remote), and set aside the corrupt ones.

    An object whose bytes no longer hash to its name moves to corrupt/ beside objects/ (in
    the cache folder, or at the remote's root): out of the way, not deleted. Its data is
    then missing, which `mlvc fetch` (from a remote) or `mlvc commit` (from the workspace)
    mends. Exits with 1 when any was corrupt.
    """
    from mlvc.ops.verify import verify

    with open_repo() as repo:
        result = verify(repo, remote=remote, cloud=cloud or remote is not None, jobs=jobs,
                        progress=progress())
    if as_json:
        echo_json(result.to_json())
    else:
        where = "the cache" if not result.remote else f"remote '{printable(result.where)}'"
        echo(f"Verified {count(result.checked, 'object')} ({human_size(result.nbytes)}) "
             f"in {where}: " + ("all sound." if result.ok else
                                f"{len(result.corrupt)} corrupt, set aside in "
                                f"{printable(result.set_aside)}:"))
        for oid in result.corrupt[:LIST_LIMIT]:
            echo(f"  {oid}")
        if len(result.corrupt) > LIST_LIMIT:
            echo(f"  … and {len(result.corrupt) - LIST_LIMIT} more (`--json` lists all)")
    if not result.ok:
        click.echo("hint: " + ("`mlvc fetch` gets them again from a remote; `mlvc commit` or "
                               "`mlvc add` stores them again from the workspace"
                               if not result.remote else
                               "`mlvc push` sends them again from a clone whose cache has "
                               "them (run `mlvc verify` there first)"), err=True)
        raise SystemExit(1)


@click.command("check-ignore")
@click.argument("targets", nargs=-1, metavar="PATH...")
@click.option("-d", "--details", is_flag=True,
              help="Name the rule for each: RULE-FILE:LINE:RULE<tab>PATH.")
@click.option("-n", "--non-matching", is_flag=True,
              help="With --details, list the paths that no rule ignores too (as ::<tab>PATH).")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the paths from standard input, one a line (as `git check-ignore "
                   "--stdin`).")
@json_option
def check_ignore_cmd(targets, details, non_matching, from_stdin, as_json):
    """Tell which PATHs .mlvcignore leaves out (mlvc never tracks, hashes or lists them),
    and by which rule. Exit code 0 when one is ignored, 1 when none is (as git's)."""
    from mlvc.ops.check_ignore import check_ignore

    if from_stdin:
        if targets:
            raise click.UsageError("--stdin reads the paths: give no PATH")
        import sys

        targets = tuple(line for line in sys.stdin.read().splitlines() if line)
    elif not targets:
        raise click.UsageError("give a PATH (or --stdin)")
    with open_repo() as repo:
        found = check_ignore(repo, list(targets), settings().cwd)
    if as_json:
        echo_json([{"path": path, "ignored": m is not None,
                    "match": None if m is None else m.to_json()} for path, m in found])
    else:
        for path, m in found:
            if m is None:
                if details and non_matching:
                    echo(f"::\t{shown(path)}")
            elif details:
                source = shown(m.source) if m.source else '(always)'
                echo(f"{source}:{m.line or ''}:{m.rule}\t{shown(path)}")
            else:
                echo(shown(path))
    if not any(m is not None for _, m in found):
        raise SystemExit(1)
