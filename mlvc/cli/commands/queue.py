"""``mlvc queue``: run, list, read and clear queued experiments (``mlvc exp run --queue``)."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from mlvc import MAX_JOBS
from mlvc.cli.render import count, echo, echo_json, json_option, open_repo, printable, settings


@click.group("queue")
def queue_cmd():
    """Experiments queued by `mlvc exp run --queue`: run them, list them, read their logs."""


def run_output():
    """Where a run's output lines go as it runs (`queue start -j 1`, `exp run --temp`)."""
    quiet = settings().quiet
    return lambda line: None if quiet else click.echo(printable(line))


def report_start(result, as_json: bool, streamed: bool) -> None:
    """What `queue start` and `exp run --temp` ran; exit 1 when one failed. ``streamed``:
    the runs printed their output here, each saved experiment's name with it."""
    if as_json:
        echo_json(result.to_json())
    else:
        for exp in () if streamed else result.experiments:
            echo(f"Saved experiment '{exp.name}' ({exp.rev[:7]}, baseline {exp.baseline[:7]}).")
        if result.experiments:
            names = result.experiments[0].name
            echo(f"`mlvc exp show` compares them; `mlvc exp apply {names}` brings one into "
                 "the workspace.")
    for e in result.failed:
        click.echo(f"error: experiment '{e.name}' ({e.id}) failed (exit code {e.returncode})",
                   err=True)
    if result.failed:
        click.echo(f"hint: `mlvc queue logs {result.failed[0].id}` shows what it printed",
                   err=True)
        sys.exit(1)


@queue_cmd.command("start")
@click.argument("names", nargs=-1, metavar="[ID|NAME]...")
@click.option("-j", "--jobs", type=click.IntRange(1, MAX_JOBS), default=1, show_default=True,
              metavar="N", help="Run up to N experiments at the same time.")
@click.option("-d", "--detach", is_flag=True,
              help="Run in the background (as `dvc queue start` does) and return at once; "
                   "`mlvc queue stop` stops it.")
@json_option
def queue_start_cmd(names, jobs, detach, as_json):
    """Run the queued experiments (or those named), each in a temporary copy of the
    project, until none is left; the workspace stays as it is.

    In the foreground it returns when the queue is done, and with -j 1 prints each run's
    output too; with --detach a worker of its own runs them in the background. Each run's
    output goes to its log (`mlvc queue logs ID`).
    """
    from mlvc.ops import exp_queue

    if detach:
        with open_repo() as repo:
            pid, log = exp_queue.start_detached(repo, list(names), jobs=jobs)
        if as_json:
            echo_json({"worker": pid, "log": str(log)})
            return
        echo(f"Started a queue worker in the background (process {pid}).")
        echo("`mlvc queue status` follows it; `mlvc queue stop` stops it (its runs stay "
             "queued).")
        return

    silent = as_json or settings().quiet

    def said(event) -> None:  # (called from the runs' threads: no click context there)
        if silent:
            return
        e = event.entry
        if event.kind == "start":
            what = " ".join(e.set_params)
            click.echo(printable(f"Running experiment '{e.name}' ({e.id})"
                                 + (f": {what}" if what else "")))
        elif jobs > 1 or e.state == "queued":
            said = {"success": "Done", "failed": "Failed"}.get(e.state, "Stopped (queued again)")
            click.echo(printable(f"{said}: '{e.name}' ({e.id})"))

    with open_repo() as repo:
        entries = exp_queue.select_queued(repo, list(names)) if names else None
        if entries is not None:
            busy = [e for e in entries if e.state != "queued"]
            if busy:
                raise click.ClickException(f"'{busy[0].name}' ({busy[0].id}) is "
                                           f"{busy[0].state}, not queued")
        stream = jobs == 1 and not as_json
        result = exp_queue.start(repo, entries, jobs=jobs, on_event=said,
                                 output=run_output() if stream else None)
    if not result.ran and not as_json:
        echo("Nothing is queued. (`mlvc exp run --queue` queues an experiment.)")
    report_start(result, as_json, stream)


@queue_cmd.command("status")
@json_option
def queue_status_cmd(as_json):
    """List queued experiments: queued, running, success or failed."""
    from mlvc.ops import exp_queue

    with open_repo() as repo:
        entries = exp_queue.queued(repo)
        working = exp_queue.workers(repo)
    if as_json:
        echo_json([e.to_json() for e in entries])
        return
    said_workers = (f"{count(len(working), 'background worker')} running "
                    f"({', '.join(map(str, working))})." if working else "")
    if not entries:
        echo(" ".join(["Nothing is queued.", said_workers]).strip())
        return
    rows = [["ID", "Name", "Baseline", "Queued", "State", "Params"]]
    for e in entries:
        rows.append([e.id, e.name, e.baseline[:7],
                     datetime.fromtimestamp(e.queued_at / 1e9).strftime("%Y-%m-%d %H:%M"),
                     e.state if e.state != "failed" else f"failed ({e.returncode})",
                     " ".join(e.set_params)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        echo("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip())
    states = [e.state for e in entries]
    echo("\n" + ", ".join(f"{states.count(s)} {s}" for s in exp_queue.STATES
                          if states.count(s)) + (f". {said_workers}" if working else ""))


@queue_cmd.command("stop")
@json_option
def queue_stop_cmd(as_json):
    """Stop the background workers (`queue start --detach`) as Ctrl-C would: their runs end
    unsaved, their temporary copies are deleted, and those experiments stay queued."""
    from mlvc.ops import exp_queue

    with open_repo() as repo:
        stopped = exp_queue.stop_workers(repo)
    if as_json:
        echo_json({"stopped": stopped})
        return
    echo(f"Stopped {count(len(stopped), 'queue worker')}"
         + (f" ({', '.join(map(str, stopped))})." if stopped else "."))


@queue_cmd.command("kill")
@click.argument("names", nargs=-1, required=True, metavar="ID|NAME...")
@json_option
def queue_kill_cmd(names, as_json):
    """Stop running experiments: each ends unsaved, its temporary copy is deleted, and it
    is recorded as failed (the queue does not run it again; `mlvc queue remove` clears it).
    The other runs go on."""
    from mlvc.ops import exp_queue

    with open_repo() as repo:
        ended = exp_queue.kill_queued(repo, exp_queue.select_queued(repo, list(names)))
    if as_json:
        echo_json([e.to_json() for e in ended])
        return
    for e in ended:
        echo(f"Killed experiment '{e.name}' ({e.id}): {e.state}.")


@queue_cmd.command("logs")
@click.argument("name", metavar="ID|NAME")
@click.option("-f", "--follow", is_flag=True,
              help="Go on printing what it prints while it runs (until it ends; Ctrl-C "
                   "stops following, not the run).")
def queue_logs_cmd(name, follow):
    """Print what a queued experiment's run printed (its commands' output included)."""
    from mlvc.ops import exp_queue

    with open_repo() as repo:
        entry = exp_queue.select_queued(repo, [name])[0]
        for chunk in exp_queue.read_log(repo, entry, follow):
            sys.stdout.write(printable(chunk.decode("utf-8", "replace")))
            sys.stdout.flush()


@queue_cmd.command("remove")
@click.argument("names", nargs=-1, metavar="[ID|NAME]...")
@click.option("--all", "everything", is_flag=True, help="Every entry that is not running.")
@click.option("--queued", is_flag=True, help="The entries still waiting.")
@click.option("--success", is_flag=True, help="The entries that ran and were saved.")
@click.option("--failed", is_flag=True, help="The entries whose run failed.")
@json_option
def queue_remove_cmd(names, everything, queued, success, failed, as_json):
    """Take entries off the queue, with their logs. The experiments already saved stay
    (`mlvc exp remove` removes those)."""
    from mlvc.ops import exp_queue

    states = tuple(s for s, on in (("queued", queued or everything),
                                   ("success", success or everything),
                                   ("failed", failed or everything)) if on)
    if not names and not states:
        raise click.UsageError("name entries, or choose --all, --queued, --success or --failed")
    with open_repo() as repo:
        removed = exp_queue.remove_queued(repo, exp_queue.select_queued(repo, list(names),
                                                                        states))
    if as_json:
        echo_json([e.to_json() for e in removed])
        return
    echo(f"Removed {count(len(removed), 'entry').replace('entrys', 'entries')}"
         + (": " + ", ".join(f"{e.name} ({e.id})" for e in removed) if removed else "."))
