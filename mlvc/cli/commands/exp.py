"""``mlvc exp``: run experiments, compare them, and bring one back, branch it or share it."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from mlvc import MAX_JOBS
from mlvc.cli.commands.pipeline import selection, selection_options
from mlvc.cli.main import AliasedGroup
from mlvc.cli.render import (
    count,
    echo,
    echo_json,
    jobs_option,
    json_option,
    no_path_option,
    one_format,
    open_repo,
    printable,
    progress,
    settings,
    shown,
    value_text,
    warn_all,
)


class _ExpGroup(AliasedGroup):
    aliases = {"ls": "list", "rm": "remove"}  # (DVC's)


@click.group("exp", cls=_ExpGroup)
def exp_cmd():
    """Run experiments and compare them; each is a git commit on a ref of its own
    (refs/mlvc/exps/…), so git shares it."""


@exp_cmd.command("run")
@click.argument("targets", nargs=-1)
@click.option("-S", "--set-param", "set_params", multiple=True, metavar="[FILE:]KEY=VALUE",
              help="Change a param first (repeatable): KEY=VALUE changes one that exists, "
                   "+KEY=VALUE adds one, ++KEY=VALUE either, ~KEY removes one. FILE: "
                   "params.yaml unless given, e.g. -S train.yaml:lr=0.01.")
@click.option("-n", "--name", metavar="NAME", help="Name of the experiment (default: a made-up "
                                                   "one, e.g. brisk-otter).")
@click.option("-m", "--message", metavar="TEXT", help="Message of the experiment's commit.")
@click.option("-f", "--force", is_flag=True,
              help="Run the stages even if nothing changed, and replace an experiment of the "
                   "same name.")
@click.option("-s", "--single-item", is_flag=True,
              help="Only the named stages, not the stages they depend on.")
@click.option("--downstream", is_flag=True,
              help="The named stages and every stage that depends on them.")
@click.option("--dry", is_flag=True,
              help="Print what would run; change nothing (the -S values are checked, not "
                   "written).")
@click.option("-k", "--keep-going", is_flag=True,
              help="After a failure, go on with stages that do not depend on it (the "
                   "experiment is not saved).")
@click.option("--no-run-cache", is_flag=True,
              help="Always run commands, even when the same inputs ran before.")
@click.option("-j", "--jobs", type=click.IntRange(1, MAX_JOBS), default=1, show_default=True,
              metavar="N", help="Run up to N independent stages at the same time.")
@click.option("--pull", is_flag=True,
              help="Fetch missing data from the default remote before running.")
@click.option("--allow-missing", is_flag=True,
              help="Do not run a stage whose only change is that deps or outputs are not "
                   "in the workspace.")
@click.option("--queue", "to_queue", is_flag=True,
              help="Do not run now: queue the experiment for `mlvc queue start`. With "
                   "--queue and --temp, -S KEY=A,B,C (or range(START,STOP[,STEP])) makes "
                   "one experiment per value, and per combination of several.")
@click.option("--temp", is_flag=True,
              help="Run in a temporary copy of the project: the workspace stays as it is.")
@click.option("-C", "--copy-paths", "copy_paths", multiple=True, metavar="PATH",
              help="With --queue or --temp: a file or folder git does not track (a local "
                   "config, credentials, downloaded data) copied into the temporary copy as "
                   "it is when the run starts; not saved in the experiment.")
@selection_options
@json_option
def exp_run_cmd(targets, set_params, name, message, force, single_item, downstream, dry,
                keep_going, no_run_cache, jobs, pull, allow_missing, to_queue, temp,
                copy_paths, as_json, **chosen):
    """Change params, run the pipeline, and save the result as an experiment.

    Like `mlvc repro` (TARGETS are stage names), after the -S changes to the params files.
    The workspace as it is then (files git tracks, and the pipeline's own files: mlvc.lock,
    pointer files, params) becomes a commit whose parent is HEAD, on the ref
    refs/mlvc/exps/…/NAME; HEAD, the index and your branch do not move. The results stay in
    the workspace: `git commit` them, or `mlvc exp apply` another experiment.

    With --queue or --temp the experiment runs in a temporary copy of the project (a git
    work tree under .mlvc/tmp/exps sharing the cache), from the workspace's files as they
    are now (files git tracks, and the pipeline's own); the results are only in the
    experiment (`mlvc exp apply` brings them).
    """
    from mlvc.cli.commands.pipeline import _event_printer, _fetch_warnings
    from mlvc.ops.exp import exp_run

    targets, options = selection(targets, **chosen)
    if to_queue or temp:
        if to_queue and temp:
            raise click.UsageError("--queue and --temp: choose one")
        if dry:
            raise click.UsageError(f"--dry does not go with --{'queue' if to_queue else 'temp'}")
        flags = tuple(k for k, on in (("single_item", single_item), ("downstream", downstream),
                                      ("keep_going", keep_going), ("pull", pull),
                                      ("allow_missing", allow_missing)) if on)
        flags += tuple(k for k, on in options.items() if on)
        _queued_run(targets, dict(name=name, set_params=list(set_params), force=force,
                                  message=message, jobs=jobs, flags=flags,
                                  no_run_cache=no_run_cache, copy_paths=list(copy_paths),
                                  cwd=settings().cwd), temp, as_json)
        return
    if copy_paths:
        raise click.UsageError("-C/--copy-paths goes with --queue or --temp (a run in the "
                               "workspace has the files already)")

    def said_params(changes) -> None:
        if as_json or settings().quiet:
            return
        for c in changes:
            old = "(new)" if c.op in ("add", "upsert") and c.old is None else _value(c.old)
            new = "(removed)" if c.op == "delete" else _value(c.new)
            echo(f"Set {shown(c.file)} {c.key}: {old} -> {new}")

    with open_repo() as repo:
        result = exp_run(repo, targets, name=name, set_params=list(set_params),
                         force=force, message=message, cwd=settings().cwd,
                         on_params=said_params, single_item=single_item,
                         downstream=downstream, dry=dry, keep_going=keep_going,
                         jobs=jobs, pull=pull, run_cache=not no_run_cache, capture=as_json,
                         allow_missing=allow_missing, **options,
                         on_event=_event_printer(as_json, jobs > 1, repo.root),
                         on_fetched=_fetch_warnings, progress=progress())
    if as_json and (dry or not result.repro.ok):
        echo_json(result.to_json())
    if not result.repro.ok:
        failed = result.repro.of("failed")
        click.echo(f"error: {count(len(failed), 'stage')} failed ({', '.join(failed)}): the "
                   "experiment was not saved", err=True)
        if not _IN_TEMP():
            click.echo("hint: fix it and run `mlvc exp run` again; the -S changes are in the "
                       "params files already", err=True)
        sys.exit(1)
    if dry:
        if not as_json and not result.repro.of("would run"):
            echo("Nothing would run: data and pipelines are up to date.")
        return
    _saved(result, as_json)


@exp_cmd.command("save")
@click.option("-n", "--name", metavar="NAME", help="Name of the experiment (default: a made-up "
                                                   "one).")
@click.option("-m", "--message", metavar="TEXT", help="Message of the experiment's commit.")
@click.option("-f", "--force", is_flag=True, help="Replace an experiment of the same name.")
@click.option("-I", "--include-untracked", "include", multiple=True, metavar="PATH",
              help="An untracked file (or folder of them) to save in the experiment too "
                   "(repeatable).")
@jobs_option
@json_option
def exp_save_cmd(name, message, force, include, jobs, as_json):
    """Save the workspace as an experiment, without running anything.

    For results made by `mlvc repro` (or by hand and `mlvc commit`): refused while
    `mlvc status` finds differences, since the experiment must record data the cache has.
    """
    from mlvc.ops.exp import exp_save

    with open_repo() as repo:
        result = exp_save(repo, name=name, force=force, message=message, jobs=jobs,
                          include_untracked=list(include), cwd=settings().cwd,
                          progress=progress())
    _saved(result, as_json)


def _IN_TEMP() -> bool:
    """Whether this runs a queued experiment in its temporary copy of the project."""
    import os

    return os.environ.get("MLVC_EXP_TEMP") == "1"


def _queued_run(targets: list[str], options: dict, temp: bool, as_json: bool) -> None:
    from mlvc.cli.commands.queue import report_start, run_output
    from mlvc.ops import exp_queue

    with open_repo() as repo:
        result = exp_queue.queue(repo, targets, **options)
        _left_out(result.left_out, queued=True)
        if not temp:
            if as_json:
                echo_json(result.to_json())
                return
            for e in result.entries:
                said = " ".join(e.set_params)
                echo(f"Queued experiment '{e.name}' ({e.id})" + (f": {said}" if said else "."))
            echo("`mlvc queue start` runs the queue; `mlvc queue status` shows it.")
            return
        started = exp_queue.run_temp(repo, result,
                                     output=None if as_json else run_output())
    report_start(started, as_json, streamed=not as_json)


def _left_out(left_out, queued: bool = False) -> None:
    if left_out:
        listed = ", ".join(shown(p) for p in left_out[:5])
        more = " …" if len(left_out) > 5 else ""
        click.echo(f"warning: {count(len(left_out), 'untracked file')} not in the "
                   f"experiment: {printable(listed)}{more}", err=True)
        click.echo("hint: `git add` a file before `mlvc exp run` to keep it in experiments"
                   + (" (or `-C PATH` to copy it into the run alone)" if queued else ""),
                   err=True)


def _saved(result, as_json: bool) -> None:
    """The end of `exp run` and `exp save`: untracked files left out, and what was saved."""
    exp = result.experiment
    _left_out(result.left_out)
    if as_json:
        echo_json(result.to_json())
        return
    verb = "Replaced" if result.replaced else "Saved"
    echo(f"{verb} experiment '{exp.name}' ({exp.rev[:7]}, baseline {exp.baseline[:7]}).")
    if _IN_TEMP():  # (the `mlvc queue start` or `exp run --temp` that ran it says the rest)
        return
    echo(f"Its results are in the workspace. `mlvc exp show` compares it; `mlvc exp apply "
         f"{exp.name}` brings it back later; `mlvc exp branch {exp.name} BRANCH` keeps it as a "
         f"branch.")


def _value(v: object, precision: int | None = None) -> str:
    return value_text(v, precision, missing="-")  # (a table cell)


def _not_zero(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value == 0:
        raise click.BadParameter("0 would show no baseline: 1 or more, or negative for all")
    return value


@exp_cmd.command("show")
@click.option("-a", "--all-branches", is_flag=True, help="Also the tips of all local branches.")
@click.option("-T", "--all-tags", is_flag=True, help="Also the commits of all tags.")
@click.option("-A", "--all-commits", is_flag=True, help="Every commit that has experiments.")
@click.option("--rev", metavar="REV",
              help="The baseline: this commit (a branch, tag or sha) instead of HEAD.")
@click.option("-n", "--num", type=int, default=1, show_default=True, callback=_not_zero,
              metavar="N", help="The baseline and N-1 of its ancestors (first parents); a "
                                "negative N: all of them.")
@click.option("--sort-by", metavar="[FILE:]KEY",
              help="Sort each baseline's experiments by this param or metric.")
@click.option("--sort-order", type=click.Choice(["asc", "desc"]), default="asc",
              show_default=True, help="Order of --sort-by.")
@click.option("--only-changed", is_flag=True,
              help="Only the columns whose values differ between experiments.")
@click.option("--drop", metavar="REGEX",
              help="Leave out the columns whose name (KEY or FILE:KEY) matches.")
@click.option("--keep", metavar="REGEX",
              help="Show the columns whose name matches, even if --drop or --only-changed "
                   "would leave them out.")
@click.option("--precision", type=click.IntRange(1, 17), default=5, show_default=True,
              metavar="N", help="Significant digits of decimal numbers.")
@click.option("--md", is_flag=True, help="Print a Markdown table.")
@click.option("--csv", "as_csv", is_flag=True,
              help="Print comma-separated values (full precision; empty when missing).")
@click.option("--hide-workspace", is_flag=True, help="Leave out the workspace's row.")
@click.option("--hide-queued", is_flag=True,
              help="Leave out experiments queued or running (`exp run --queue`).")
@click.option("--hide-failed", is_flag=True, help="Leave out queued runs that failed.")
@click.option("--param-deps", is_flag=True,
              help="Only the params stages depend on (not the files of the top-level "
                   "`params:`).")
@click.option("--sha", "sha_names", is_flag=True,
              help="Name baselines by their commit's sha, never by branch or tag.")
@json_option
def exp_show_cmd(all_branches, all_tags, all_commits, rev, num, sort_by, sort_order,
                 only_changed, drop, keep, precision, md, as_csv, hide_workspace, hide_queued,
                 hide_failed, param_deps, sha_names, as_json):
    """Show the workspace, HEAD and its experiments, with their metrics and params.

    Metrics are those of the files the stages declare under `metrics:` and of the top-level
    `metrics:`, params the keys the stages declare and the files of the top-level
    `params:`. A value an experiment lacks shows as "-".
    """
    from mlvc.ops.exp import exp_show

    one_format(md=md, csv=as_csv, json=as_json)
    with open_repo() as repo:
        table = exp_show(repo, all_branches=all_branches, all_tags=all_tags,
                         all_commits=all_commits, num=num, rev=rev, sha_names=sha_names,
                         sort_by=sort_by, descending=sort_order == "desc",
                         only_changed=only_changed, keep=keep, drop=drop,
                         hide=frozenset(k for k, on in (("workspace", hide_workspace),
                                                        ("queued", hide_queued),
                                                        ("failed", hide_failed)) if on),
                         param_deps=param_deps)
    warn_all(table.warnings)
    if as_json:
        echo_json(table.to_json())
        return
    keys = [c[2] for c in table.columns]
    heads = [f"{c[1]}:{c[2]}" if keys.count(c[2]) > 1 else c[2] for c in table.columns]
    header = ["Experiment", "rev", "Created", *heads]
    if as_csv:
        import csv
        import io

        text = io.StringIO()
        out = csv.writer(text, lineterminator="\n")
        out.writerow(["Experiment", "kind", "rev", "baseline", "Created", *heads])
        for row in table.rows:
            created = (datetime.fromtimestamp(row.created).isoformat(timespec="seconds")
                       if row.created else "")
            out.writerow([row.name, row.kind, row.rev or "", row.baseline or "", created,
                          *("" if row.value(c) is None else row.value(c)
                            for c in table.columns)])
        click.echo(printable(text.getvalue()), nl=False)
        return
    lines = []
    for i, row in enumerate(table.rows):
        label = row.name
        if row.kind in ("experiment", "queued"):
            last = i + 1 == len(table.rows) or table.rows[i + 1].kind not in ("experiment",
                                                                              "queued")
            label = ("└── " if last else "├── ") + label
        created = (datetime.fromtimestamp(row.created).strftime("%Y-%m-%d %H:%M")
                   if row.created else "-")
        rev = row.state or (row.rev[:7] if row.rev else "-")  # (queued: its state)
        lines.append([label, rev, created,
                      *(_value(row.value(c), precision) for c in table.columns)])
    if md:
        click.echo("| " + " | ".join(header) + " |")
        click.echo("|" + "---|" * len(header))
        for line in lines:
            click.echo("| " + " | ".join(printable(x).replace("|", "\\|") for x in line) + " |")
        return
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    for line in [header, *lines]:
        echo("  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip())


@exp_cmd.command("diff")
@click.argument("a", metavar="[A", required=False)
@click.argument("b", metavar="[B]]", required=False)
@click.option("--all", "everything", is_flag=True, help="List unchanged values too.")
@click.option("--param-deps", is_flag=True,
              help="Only the params stages depend on (not the files of the top-level "
                   "`params:`).")
@click.option("--precision", type=click.IntRange(1, 17), default=None, metavar="N",
              help="Significant digits of decimal numbers (default: as the files have them).")
@click.option("--md", is_flag=True, help="Print a Markdown table.")
@no_path_option
@json_option
def exp_diff_cmd(a, b, everything, param_deps, precision, md, no_path, as_json):
    """Compare the params and metrics of A (an experiment or git revision; default: HEAD)
    with B (default: the workspace).

    `mlvc diff` with the experiments' commits (`mlvc exp list --sha`) also compares their
    data and traces each metric's change to its causes.
    """
    from mlvc.cli.commands.diff import _change_line, change_header, change_row
    from mlvc.ops.exp import exp_diff

    one_format(md=md, json=as_json)
    with open_repo() as repo:
        result = exp_diff(repo, a, b, everything=everything, param_deps=param_deps)
    warn_all(result.params.warnings + result.metrics.warnings)
    if as_json:
        echo_json(result.to_json())
        return
    changes = list(result.metrics.changes) + list(result.params.changes)
    if md:
        click.echo(change_header(not no_path))
        for c in changes:
            click.echo(change_row(c, precision, not no_path))
        return
    echo(f"Comparing {result.a} with {result.b}:")
    if not changes:
        echo("No params or metrics changed.")
    for kind, group in (("Metrics", result.metrics.changes), ("Params", result.params.changes)):
        if group:
            echo(f"{kind}:")
            for c in group:
                echo(_change_line(c, precision, not no_path))


@exp_cmd.command("apply")
@click.argument("name")
@click.option("-f", "--force", is_flag=True,
              help="Overwrite files with unsaved changes (git-kept files and data).")
@jobs_option
@json_option
def exp_apply_cmd(name, force, jobs, as_json):
    """Put an experiment's results in the workspace: the files git keeps, then its data.

    HEAD and the index do not move: `git commit` keeps the result. A file with changes saved
    nowhere (not as HEAD, this experiment or another of the same baseline has it) stops the
    apply before anything changes, unless -f.
    """
    from mlvc.ops.exp import exp_apply

    with open_repo() as repo:
        result = exp_apply(repo, name, force=force, jobs=jobs, progress=progress())
    c = result.checkout
    if as_json:
        echo_json(result.to_json())
    else:
        exp = result.experiment
        echo(f"Applied experiment '{exp.name}' ({exp.rev[:7]}): "
             f"{count(len(result.written) + len(result.removed), 'git-kept file')} changed, "
             f"data: {len(c.added)} added, {len(c.modified)} modified, "
             f"{len(c.deleted)} deleted.")
    exp = result.experiment
    if result.head != exp.baseline:
        click.echo(f"warning: experiment '{exp.name}' started from {exp.baseline[:7]}, not from "
                   f"HEAD ({result.head[:7]}): files changed since are as it has them",
                   err=True)
    for p in c.conflicts:
        click.echo(f"warning: kept your unsaved changes to {shown(p)} (-f overwrites them)",
                   err=True)
    for p, why in c.failed:
        click.echo(f"error: {shown(p)}: {printable(why)}", err=True)
    if c.failed or c.conflicts:
        if c.hint:
            click.echo(f"hint: {printable(c.hint)}", err=True)
        sys.exit(1)


@exp_cmd.command("branch")
@click.argument("name")
@click.argument("branch")
@json_option
def exp_branch_cmd(name, branch, as_json):
    """Make a git branch BRANCH at experiment NAME's commit."""
    from mlvc.ops.exp import exp_branch

    with open_repo() as repo:
        exp, branch = exp_branch(repo, name, branch)
    if as_json:
        echo_json({"experiment": exp.to_json(), "branch": branch})
        return
    echo(f"Branch '{branch}' is at experiment '{exp.name}' ({exp.rev[:7]}).")
    echo(f"`git checkout {branch} && mlvc checkout` switches to it.")


@exp_cmd.command("rename")
@click.argument("name")
@click.argument("new_name")
@click.option("-f", "--force", is_flag=True,
              help="Replace an experiment already called NEW_NAME on the same baseline.")
@json_option
def exp_rename_cmd(name, new_name, force, as_json):
    """Rename experiment NAME to NEW_NAME (its ref; the commit stays the same). On a git
    remote it keeps the old name until `mlvc exp push` of the new one and `mlvc exp remove
    -g` of the old."""
    from mlvc.ops.exp import exp_rename

    with open_repo() as repo:
        old, new = exp_rename(repo, name, new_name, force=force)
    if as_json:
        echo_json({"old": old.to_json(), "new": new.to_json()})
        return
    echo(f"Renamed experiment '{old.name}' to '{new.name}' ({new.rev[:7]}, baseline "
         f"{new.baseline[:7]}).")


def _selection(f):
    f = click.option("-n", "--num", type=click.IntRange(min=1), default=1, metavar="N",
                     help="With --rev (default HEAD): also the experiments of the N-1 "
                          "commits before it (first parents).")(f)
    f = click.option("--rev", metavar="REV", help="The experiments of baseline REV.")(f)
    return click.option("-A", "--all-commits", is_flag=True,
                        help="Every experiment (of all baselines).")(f)


@exp_cmd.command("remove")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@_selection
@click.option("-g", "--git-remote", metavar="REMOTE",
              help="Remove them from this git remote instead.")
@click.option("--keep", is_flag=True,
              help="Keep the experiments chosen and remove every other one (of all "
                   "baselines).")
@click.option("--queue", "queued", is_flag=True,
              help="Also take the entries still waiting off the queue (`exp run --queue`).")
@json_option
def exp_remove_cmd(names, rev, all_commits, num, git_remote, keep, queued, as_json):
    """Remove experiments (their refs). Their data stays in the cache until `mlvc gc`."""
    from mlvc.ops import exp_queue
    from mlvc.ops.exp import exp_remove

    if keep and queued:
        raise click.UsageError("--keep and --queue go apart (--queue removes queued entries)")
    if queued and git_remote:
        raise click.UsageError("--queue is this project's queue, not a git remote's")
    chosen = bool(names or rev or all_commits or num > 1)
    with open_repo() as repo:
        dropped = (exp_queue.remove_queued(repo, exp_queue.select_queued(repo, [], ("queued",)))
                   if queued else [])
        removed = exp_remove(repo, list(names), rev=rev, all_commits=all_commits, num=num,
                             git_remote=git_remote, keep=keep) if chosen or not queued else []
    if as_json:
        echo_json([e.to_json() for e in removed] if not queued else {
            "experiments": [e.to_json() for e in removed],
            "queued": [e.to_json() for e in dropped]})
        return
    where = f" from '{git_remote}'" if git_remote else ""
    if chosen or not queued:
        echo(f"Removed {count(len(removed), 'experiment')}{where}"
             + (": " + ", ".join(e.name for e in removed) if removed else "."))
    if queued:
        echo(f"Took {count(len(dropped), 'entry').replace('entrys', 'entries')} off the queue"
             + (": " + ", ".join(f"{e.name} ({e.id})" for e in dropped) if dropped else "."))


@exp_cmd.command("clean")
@json_option
def exp_clean_cmd(as_json):
    """Delete what killed queue runs left: temporary copies, stale marks and files.

    Running experiments, queued entries and experiments are not touched.
    """
    from mlvc.ops.exp_queue import clean

    with open_repo() as repo:
        result = clean(repo)
    if as_json:
        echo_json(result.to_json())
    elif result.worktrees or result.files:
        copies = len(result.worktrees)
        echo(f"Removed {copies} temporary {'copy' if copies == 1 else 'copies'} and "
             f"{count(len(result.files), 'leftover file')}.")
    else:
        echo("Nothing to clean.")


@exp_cmd.command("list")
@click.argument("git_remote", required=False)
@_selection
@click.option("--name-only", is_flag=True, help="Only the names, one per line.")
@click.option("--sha", is_flag=True, help="With each name, its commit.")
@json_option
def exp_list_cmd(git_remote, rev, all_commits, num, name_only, sha, as_json):
    """List the experiments of HEAD (or of --rev, or all with -A), here or on GIT_REMOTE."""
    from mlvc.ops.exp import exp_list

    with open_repo() as repo:
        found = exp_list(repo, git_remote, rev=rev, all_commits=all_commits, num=num)
    if as_json:
        echo_json([e.to_json() for e in found])
        return
    if not found and not as_json and not name_only:
        where = f" on git remote '{git_remote}'" if git_remote else ""
        base = "" if all_commits else f" of {rev or 'HEAD'}"
        echo(f"No experiments{base}{where}." + ("" if all_commits else " (-A: of all "
                                                                      "commits)"))
        return
    if name_only:
        for e in found:
            click.echo(e.name)
        return
    last = None
    for e in found:
        if e.baseline != last:
            echo(f"{e.baseline[:7]}:")
            last = e.baseline
        echo(f"  {e.name}" + (f" {e.rev}" if sha else ""))


def _transfer(push: bool):
    verb = "push" if push else "pull"

    @click.argument("git_remote")
    @click.argument("names", nargs=-1, metavar="[NAME]...")
    @_selection
    @click.option("-f", "--force", is_flag=True,
                  help="Replace experiments of the same name " + ("there." if push else "here."))
    @click.option("--no-cache", is_flag=True, help="Only the git refs, not the data.")
    @click.option("--run-cache", is_flag=True,
                  help="Also the run-cache records of `mlvc repro` (as `" + verb +
                       " --run-cache`), so that stages that ran there are restored, not run.")
    @click.option("-r", "--remote", metavar="NAME",
                  help="mlvc remote for the data (default: core.remote).")
    @jobs_option
    @json_option
    def command(git_remote, names, rev, all_commits, num, force, no_cache, run_cache, remote,
                jobs, as_json):
        from mlvc.cli.commands.remote import report_failures
        from mlvc.ops import exp

        if no_cache and run_cache:
            raise click.UsageError("--run-cache goes through mlvc's remote; --no-cache sends "
                                   "only the git refs: choose one")
        op = exp.exp_push if push else exp.exp_pull
        with open_repo() as repo:
            result = op(repo, git_remote, list(names), rev=rev, all_commits=all_commits,
                        force=force, cache=not no_cache, remote=remote, jobs=jobs, num=num,
                        run_cache=run_cache, progress=progress())
        if as_json:
            echo_json(result.to_json())
        data = result.data
        if data is not None and data.failed:
            report_failures(data, head=f"error: {count(len(data.failed), 'object')} did not "
                                       f"transfer {'to' if push else 'from'} remote "
                                       f"'{printable(data.remote)}'")
            if push:
                click.echo("error: the experiments' refs were not pushed: their data is not "
                           "all on the remote", err=True)
            sys.exit(1)
        if as_json:
            return
        names_ = ", ".join(e.name for e in result.experiments) or "none"
        moved = f"{count(len(result.experiments), 'experiment')} ({names_})"
        echo(f"{'Pushed' if push else 'Pulled'} {moved} {'to' if push else 'from'} "
             f"'{git_remote}'.")
        if data is not None:
            echo(f"Data: {count(data.transferred, 'object')} "
                 f"{'sent to' if push else 'fetched from'} remote '{printable(data.remote)}'"
                 + (f", and {count(data.runs, 'run-cache record')}." if run_cache else "."))
        if not push and result.experiments:
            echo("`mlvc exp apply NAME` puts one in the workspace.")

    command.__doc__ = (
        f"{'Send' if push else 'Bring'} experiments (their git refs, and their data through "
        f"mlvc's remote) {'to' if push else 'from'} GIT_REMOTE.\n\n"
        + ("The data goes first: a ref others can see has its data on the remote."
           if push else "The data goes to the cache; `mlvc exp apply` puts it in the "
                        "workspace."))
    return exp_cmd.command(verb)(command)


exp_push_cmd = _transfer(push=True)
exp_pull_cmd = _transfer(push=False)
