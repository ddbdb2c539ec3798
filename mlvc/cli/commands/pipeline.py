"""Pipeline commands: repro, stage add/list, dag."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import click

from mlvc import MAX_JOBS
from mlvc.cli.render import (
    LIST_LIMIT,
    count,
    echo,
    echo_json,
    git_hint,
    here,
    json_option,
    open_repo,
    printable,
    progress,
    settings,
    shown,
)


def _event_printer(as_json: bool, parallel: bool, root):
    """Print repro's events as they happen: to stdout, or to stderr when stdout is JSON.
    (Made once the repository is open: its paths are named as seen from the user's folder,
    which stage threads could not look up.)"""
    quiet = settings().quiet
    where = here()
    cwd = settings().cwd
    lock = threading.Lock()

    def say(text: str, err: bool = False) -> None:
        with lock:
            click.echo(text, err=err or as_json)

    def on_event(e) -> None:
        if e.kind == "output":
            with lock:
                # A stage's own output is shown even under -q, as it would be without mlvc.
                click.echo(f"[{e.stage}] {e.text}" if parallel else e.text,
                           err=as_json)
            return
        if e.kind == "failed":
            say(f"error: stage '{e.stage}' failed: {e.text}", err=True)
            if e.hint:
                say(f"hint: {e.hint}", err=True)
            return
        if e.kind == "skipped":
            say(f"Stage '{e.stage}' skipped: {e.text}", err=True)
            return
        if e.kind == "kept":
            say(f"warning: stage '{e.stage}' replaces data that mlvc.lock does not record "
                "(edited by hand, or made before the stage ran); copies are kept in the cache:",
                err=True)
            for k in e.kept[:LIST_LIMIT]:
                obj = (os.path.relpath(k.object_path, cwd)
                       if Path(k.object_path).is_relative_to(root) else k.object_path)
                say(f"  {shown(k.path)}: {printable(obj)}", err=True)
            if len(e.kept) > LIST_LIMIT:
                say(f"  … and {len(e.kept) - LIST_LIMIT} more; `--json` lists them all",
                    err=True)
            say("hint: to keep your version, copy a file back over the stage's output (`cat "
                "OBJECT > PATH`: objects are read-only) and run `mlvc commit`", err=True)
            return
        if quiet:
            return
        why = "; ".join(r.seen(where) for r in e.reasons)
        if e.kind == "start":
            say(f"Running stage '{e.stage}' ({why}):" if why else f"Running stage '{e.stage}':")
            if not parallel:
                for cmd in e.text.splitlines():
                    say(f"> {cmd}")
        elif e.kind == "restored":
            say(f"Stage '{e.stage}' ({why}): these inputs ran before; "
                "restored its outputs from the run cache")
        elif e.kind == "unchanged":
            say(f"Stage '{e.stage}' didn't change, skipping")
        elif e.kind == "frozen":
            say(f"Stage '{e.stage}' is frozen, skipping")
        elif e.kind == "would run":
            say(f"Would run stage '{e.stage}':")
            for r in e.reasons:
                say(f"    {r.seen(where)}")
        elif e.kind == "done" and parallel:
            say(f"Stage '{e.stage}' done ({e.text})")

    return on_event


def _fetch_warnings(result) -> None:
    """What ``repro --pull`` could not fetch: the stages that need it then fail or run, and
    their errors (a dep that does not exist) would not say why."""
    from mlvc.cli.commands.remote import report_failures

    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    report_failures(result, head=f"warning: --pull: {count(len(result.failed), 'object')} did "
                                 f"not transfer from remote '{printable(result.remote)}'")


def selection_options(f):
    """The options of `repro` and `exp run` that choose stages beyond -s/--downstream (as
    DVC's): the command receives them as ``force_downstream``, ``pipeline``,
    ``all_pipelines``, ``glob`` and ``recursive``; `selection` turns them into repro's
    arguments."""
    for decorate in reversed((
            click.option("-p", "--pipeline", is_flag=True,
                         help="Every stage of the pipelines the targets belong to (upstream "
                              "and downstream of them, and of those stages)."),
            click.option("-P", "--all-pipelines", is_flag=True,
                         help="Every stage of mlvc.yaml (as giving no targets)."),
            click.option("--glob", is_flag=True,
                         help="TARGETS may be shell-style patterns of stage names, e.g. "
                              "'train-*' (quoted, for the shell)."),
            click.option("--force-downstream", is_flag=True,
                         help="A stage downstream of one that ran runs too, even when that "
                              "run left its deps as they were."),
            click.option("-R", "--recursive", is_flag=True,
                         help="A folder in TARGETS also chooses every stage whose wdir is "
                              "in it (the stages DVC would find in its dvc.yaml files)."))):
        f = decorate(f)
    return f


def selection(targets, pipeline: bool, all_pipelines: bool, glob: bool,
              force_downstream: bool, recursive: bool) -> tuple[list[str], dict]:
    """The targets and repro's keyword arguments that `selection_options` chose."""
    if all_pipelines and targets:
        raise click.UsageError("-P/--all-pipelines takes no TARGETS")
    if pipeline and not targets:
        raise click.UsageError("-p/--pipeline needs TARGETS (without them: every stage)")
    return list(targets), {"whole_pipelines": pipeline, "glob": glob,
                           "force_downstream": force_downstream, "recursive": recursive}


@click.command("repro")
@click.argument("targets", nargs=-1)
@click.option("-f", "--force", is_flag=True,
              help="Run the chosen stages even if nothing changed (and skip the run cache).")
@click.option("-s", "--single-item", is_flag=True,
              help="Only the named stages, not the stages they depend on.")
@click.option("--downstream", is_flag=True,
              help="The named stages and every stage that depends on them.")
@click.option("--dry", is_flag=True, help="Print what would run, and why; change nothing.")
@click.option("-k", "--keep-going", is_flag=True,
              help="After a failure, go on with stages that do not depend on it.")
@click.option("--no-commit", is_flag=True,
              help="Do not copy the outputs into the cache (the lock is still written).")
@click.option("--no-run-cache", is_flag=True,
              help="Always run commands, even when the same inputs ran before.")
@click.option("-j", "--jobs", type=click.IntRange(1, MAX_JOBS), default=1, show_default=True,
              metavar="N", help="Run up to N independent stages at the same time.")
@click.option("--pull", is_flag=True,
              help="Fetch missing data from the default remote before running, and check "
                   "out the deps and outputs the workspace lacks.")
@click.option("--allow-missing", is_flag=True,
              help="Do not run a stage whose only change is that deps or outputs are not "
                   "in the workspace (with --dry: check a clone that has no data).")
@click.option("-i", "--interactive", is_flag=True,
              help="Ask before each stage starts; a stage you decline stops the run there.")
@selection_options
@json_option
def repro_cmd(targets, force, single_item, downstream, dry, keep_going, no_commit,
              no_run_cache, jobs, pull, allow_missing, interactive, as_json, **chosen):
    """Run the stages of mlvc.yaml whose inputs changed, in dependency order.

    TARGETS are stage names (or a foreach/matrix group, or an output path); without them,
    every stage. A stage runs when its command, a dep, a declared param or an output
    changed, or when it never ran. Outputs go to the cache and mlvc.lock records what ran.
    """
    from mlvc.ops.repro import repro

    parallel = jobs > 1
    targets, options = selection(targets, **chosen)
    if interactive and parallel:
        raise click.UsageError("-i/--interactive asks before each stage: it runs one at a "
                               "time (no -j)")
    if interactive and not dry:
        options["confirm"] = lambda name: click.confirm(
            f"Run stage '{name}'?", default=True, err=True)
    with open_repo() as repo:
        result = repro(repo, targets, cwd=settings().cwd, force=force, **options,
                       single_item=single_item, downstream=downstream, dry=dry,
                       keep_going=keep_going, no_commit=no_commit, jobs=jobs, pull=pull,
                       run_cache=not no_run_cache, capture=as_json,
                       allow_missing=allow_missing,
                       on_event=_event_printer(as_json, parallel, repo.root),
                       on_fetched=_fetch_warnings, progress=progress())
    if as_json:
        echo_json(result.to_json())
    _said_repro(repo, result, dry, as_json)


def _said_repro(repo, result, dry: bool, as_json: bool) -> None:
    """What `repro` says at the end (its JSON is printed before); exits 1 when a stage
    failed."""
    if as_json:
        pass  # (the JSON said it all; only the exit code is left)
    elif not dry:
        ran = result.of("ran", "restored")
        if result.ok and not ran:
            echo("Data and pipelines are up to date.")
        else:
            git_hint(repo.root, result)
    elif not result.of("would run"):
        echo("Nothing would run: data and pipelines are up to date.")
    if not result.ok:
        failed = result.of("failed")
        if len(failed) > 1:  # (one is said where it failed)
            click.echo(f"error: {count(len(failed), 'stage')} failed: {', '.join(failed)}",
                       err=True)
        sys.exit(1)


@click.group("stage")
def stage_cmd():
    """Add stages to mlvc.yaml, and list them."""


@stage_cmd.command("add", context_settings={"allow_interspersed_args": False})
@click.option("-n", "--name", required=True, help="Name of the stage.")
@click.option("-d", "--deps", "deps", multiple=True, metavar="PATH", help="A dependency.")
@click.option("-p", "--params", "params", multiple=True, metavar="[FILE:]KEYS",
              help="Params the stage reads: 'a.b,c' from params.yaml, or 'other.yaml:a,b'.")
@click.option("-o", "--outs", "outs", multiple=True, metavar="PATH",
              help="An output, kept in the cache.")
@click.option("-O", "--outs-no-cache", "outs_no_cache", multiple=True, metavar="PATH",
              help="An output kept in git, not the cache.")
@click.option("-m", "--metrics", "metrics", multiple=True, metavar="PATH",
              help="A metrics file, kept in the cache.")
@click.option("-M", "--metrics-no-cache", "metrics_no_cache", multiple=True, metavar="PATH",
              help="A metrics file kept in git (the usual choice).")
@click.option("--plots", "plots", multiple=True, metavar="PATH",
              help="A plots file (see `mlvc plots`), kept in the cache.")
@click.option("--plots-no-cache", "plots_no_cache", multiple=True, metavar="PATH",
              help="A plots file kept in git, not the cache.")
@click.option("--outs-persist", "outs_persist", multiple=True, metavar="PATH",
              help="An output kept in the cache that is not deleted before the command runs "
                   "(a checkpoint the command goes on from).")
@click.option("--outs-persist-no-cache", "outs_persist_no_cache", multiple=True,
              metavar="PATH", help="As --outs-persist, kept in git, not the cache.")
@click.option("-w", "--wdir", metavar="DIR",
              help="Folder the command runs in; paths are relative to it.")
@click.option("--desc", metavar="TEXT", help="A description of the stage.")
@click.option("--always-changed", is_flag=True,
              help="Run the stage on every `mlvc repro`, as if something changed (a stage "
                   "that reads a database or the network).")
@click.option("-f", "--force", is_flag=True, help="Replace a stage of the same name.")
@click.option("--run", "run_it", is_flag=True,
              help="Run the stage now (`mlvc repro -s NAME`: the stages it depends on do "
                   "not run).")
@click.argument("command", nargs=-1, required=True)
@json_option
def stage_add_cmd(name, deps, params, outs, outs_no_cache, metrics, metrics_no_cache, plots,
                  plots_no_cache, outs_persist, outs_persist_no_cache, wdir, desc,
                  always_changed, force, run_it, command, as_json):
    """Add a stage to mlvc.yaml, keeping the file's comments and order.

    Everything after the options is the command, e.g.
    `mlvc stage add -n train -d train.py -o model.pkl python train.py`.
    Nothing runs unless --run: `mlvc repro` runs it.
    """
    from mlvc.ops.repro import repro
    from mlvc.ops.stage import stage_add

    cmd = command[0] if len(command) == 1 else " ".join(_quote(c) for c in command)
    with open_repo() as repo:
        result = stage_add(repo, name, cmd, deps=list(deps), params=list(params),
                           outs=list(outs), outs_no_cache=list(outs_no_cache),
                           metrics=list(metrics), metrics_no_cache=list(metrics_no_cache),
                           plots=list(plots), plots_no_cache=list(plots_no_cache),
                           outs_persist=list(outs_persist),
                           outs_persist_no_cache=list(outs_persist_no_cache),
                           wdir=wdir, desc=desc, always_changed=always_changed, force=force,
                           cwd=settings().cwd)
        if not as_json:
            echo(f"{'Replaced' if result.replaced else 'Added'} stage '{name}' in mlvc.yaml")
        ran = None
        if run_it:
            ran = repro(repo, [name], single_item=True, capture=as_json,
                        on_event=_event_printer(as_json, False, repo.root),
                        progress=progress())
    if as_json:
        echo_json({**result.to_json(), **({"repro": ran.to_json()} if ran else {})})
        if ran is not None and not ran.ok:
            sys.exit(1)
        return
    if ran is not None:
        _said_repro(repo, ran, False, False)
        return
    git_hint(repo.root, result)
    echo(f"Run it with `mlvc repro {name}`.")


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


@stage_cmd.command("list")
@click.option("--name-only", "--names-only", "name_only", is_flag=True,
              help="Print the stages' names alone, one a line.")
@json_option
def stage_list_cmd(name_only, as_json):
    """List the stages of mlvc.yaml, with their outputs."""
    from mlvc.ops.stage import stage_json, stage_list

    with open_repo() as repo:
        stages = stage_list(repo)
    if as_json:
        echo_json([stage_json(s) for s in stages])
        return
    if name_only:
        for s in stages:
            click.echo(s.name)
        return
    if not stages:
        echo("No stages: add one with `mlvc stage add`.")
    width = max((len(s.name) for s in stages), default=0)
    for s in stages:
        outs = ", ".join(shown(o.path) for o in s.outs)
        what = s.desc or (f"outputs {outs}" if outs else s.cmd[0])
        flags = " (frozen)" if s.frozen else ""
        click.echo(f"{s.name:<{width}}  {what}{flags}")


def _set_frozen(names, frozen: bool, as_json: bool) -> None:
    from mlvc.ops.stage import set_frozen

    with open_repo() as repo:
        result = set_frozen(repo, list(names), frozen)
    if as_json:
        echo_json(result.to_json())
        return
    for name in result.stages:
        echo(f"{'Froze' if frozen else 'Unfroze'} stage '{name}'.")
    git_hint(repo.root, result, "To track the change with git")


@click.command("freeze")
@click.argument("names", nargs=-1, required=True, metavar="STAGE...")
@json_option
def freeze_cmd(names, as_json):
    """Mark stages frozen in mlvc.yaml: `mlvc repro` never runs them, and their outputs
    stay as mlvc.lock records them (as `dvc freeze`). A foreach/matrix group is frozen
    whole."""
    _set_frozen(names, True, as_json)


@click.command("unfreeze")
@click.argument("names", nargs=-1, required=True, metavar="STAGE...")
@json_option
def unfreeze_cmd(names, as_json):
    """Take the frozen mark off stages in mlvc.yaml (`mlvc repro` runs them again when
    their inputs changed)."""
    _set_frozen(names, False, as_json)


@click.command("dag")
@click.argument("targets", nargs=-1)
@click.option("--dot", "fmt", flag_value="dot", help="Print Graphviz DOT.")
@click.option("--mermaid", "fmt", flag_value="mermaid", help="Print a Mermaid flowchart.")
@click.option("--md", "fmt", flag_value="md",
              help="Print the Mermaid flowchart in a Markdown code block (for a README or a "
                   "pull request, as `dvc dag --md`).")
@click.option("--downstream", is_flag=True,
              help="Show the stages downstream of TARGETS instead of upstream.")
@click.option("--full", is_flag=True,
              help="Show the whole pipelines TARGETS belong to (upstream and downstream).")
@click.option("-o", "--outs", is_flag=True,
              help="Draw the stages' outputs instead of the stages: an output points to the "
                   "outputs of each stage that reads it.")
@click.option("--collapse-foreach-matrix", "collapse", is_flag=True,
              help="Draw the stages of each foreach/matrix (name@key) as one node, name.")
@json_option
def dag_cmd(targets, fmt, downstream, full, outs, collapse, as_json):
    """Draw the stage graph (of TARGETS and the stages they depend on)."""
    from mlvc.ops.dag import dag
    from mlvc.pipeline import draw

    if collapse and outs:
        raise click.UsageError("--collapse-foreach-matrix draws stages; -o/--outs draws "
                               "outputs: choose one")
    with open_repo() as repo:
        result = dag(repo, list(targets), cwd=settings().cwd, downstream=downstream,
                     full=full, outs=outs, collapse=collapse)
    if as_json:
        echo_json(result.to_json())
        return
    nodes, edges = list(result.nodes), list(result.edges)
    if fmt == "dot":
        click.echo(draw.to_dot(nodes, edges))
    elif fmt == "mermaid":
        click.echo(draw.to_mermaid(nodes, edges))
    elif fmt == "md":
        click.echo(f"```mermaid\n{draw.to_mermaid(nodes, edges).rstrip()}\n```")
    elif nodes:
        click.echo(draw.to_text(nodes, edges))
    else:
        echo("No stages.")
