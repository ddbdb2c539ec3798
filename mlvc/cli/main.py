"""The ``mlvc`` command group: global options, lazy subcommands and error mapping."""

from __future__ import annotations

import gc
import importlib
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click

from mlvc import __version__

# name -> (module, attribute); modules are imported only when the command runs or is listed.
COMMANDS = {
    "init": ("mlvc.cli.commands.project", "init_cmd"),
    "destroy": ("mlvc.cli.commands.project", "destroy_cmd"),
    "migrate-dvc": ("mlvc.cli.commands.project", "migrate_dvc_cmd"),
    "config": ("mlvc.cli.commands.project", "config_cmd"),
    "cache": ("mlvc.cli.commands.project", "cache_cmd"),
    "doctor": ("mlvc.cli.commands.project", "doctor_cmd"),
    "version": ("mlvc.cli.commands.project", "version_cmd"),
    "install": ("mlvc.cli.commands.project", "install_cmd"),
    "completion": ("mlvc.cli.commands.project", "completion_cmd"),
    "root": ("mlvc.cli.commands.project", "root_cmd"),
    "add": ("mlvc.cli.commands.data", "add_cmd"),
    "status": ("mlvc.cli.commands.data", "status_cmd"),
    "commit": ("mlvc.cli.commands.data", "commit_cmd"),
    "checkout": ("mlvc.cli.commands.data", "checkout_cmd"),
    "remove": ("mlvc.cli.commands.data", "remove_cmd"),
    "move": ("mlvc.cli.commands.data", "move_cmd"),
    "unprotect": ("mlvc.cli.commands.data", "unprotect_cmd"),
    "gc": ("mlvc.cli.commands.data", "gc_cmd"),
    "verify": ("mlvc.cli.commands.data", "verify_cmd"),
    "check-ignore": ("mlvc.cli.commands.data", "check_ignore_cmd"),
    "data": ("mlvc.cli.commands.data", "data_cmd"),
    "remote": ("mlvc.cli.commands.remote", "remote_cmd"),
    "push": ("mlvc.cli.commands.remote", "push_cmd"),
    "fetch": ("mlvc.cli.commands.remote", "fetch_cmd"),
    "pull": ("mlvc.cli.commands.remote", "pull_cmd"),
    "get": ("mlvc.cli.commands.remote", "get_cmd"),
    "artifacts": ("mlvc.cli.commands.artifacts", "artifacts_cmd"),
    "import": ("mlvc.cli.commands.remote", "import_cmd"),
    "update": ("mlvc.cli.commands.remote", "update_cmd"),
    "get-url": ("mlvc.cli.commands.remote", "get_url_cmd"),
    "import-url": ("mlvc.cli.commands.remote", "import_url_cmd"),
    "ls-url": ("mlvc.cli.commands.remote", "ls_url_cmd"),
    "import-db": ("mlvc.cli.commands.db", "import_db_cmd"),
    "test-db": ("mlvc.cli.commands.db", "test_db_cmd"),
    "repro": ("mlvc.cli.commands.pipeline", "repro_cmd"),
    "stage": ("mlvc.cli.commands.pipeline", "stage_cmd"),
    "dag": ("mlvc.cli.commands.pipeline", "dag_cmd"),
    "freeze": ("mlvc.cli.commands.pipeline", "freeze_cmd"),
    "unfreeze": ("mlvc.cli.commands.pipeline", "unfreeze_cmd"),
    "diff": ("mlvc.cli.commands.diff", "diff_cmd"),
    "params": ("mlvc.cli.commands.diff", "params_cmd"),
    "metrics": ("mlvc.cli.commands.diff", "metrics_cmd"),
    "ls": ("mlvc.cli.commands.diff", "ls_cmd"),
    "du": ("mlvc.cli.commands.diff", "du_cmd"),
    "plots": ("mlvc.cli.commands.plots", "plots_cmd"),
    "exp": ("mlvc.cli.commands.exp", "exp_cmd"),
    "queue": ("mlvc.cli.commands.queue", "queue_cmd"),
}


@dataclass(frozen=True, slots=True)
class Settings:
    cwd: Path
    quiet: bool
    verbose: bool


class AliasedGroup(click.Group):
    """A group whose commands also answer to DVC's other names for them (``mlvc mv``,
    ``mlvc exp rm``); its help shows each as ``move (mv)``, as DVC's does, and a name it
    does not know gets the nearest ones suggested."""

    aliases: dict[str, str] = {}  # other name -> command

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def resolve_command(self, ctx: click.Context, args: list[str]):
        import difflib

        name = args[0]
        cmd = self.get_command(ctx, name)
        if cmd is None and not ctx.resilient_parsing:
            if name.startswith("-"):  # (an option where a command goes: parsed as one)
                self.parse_args(ctx, args)
            near = difflib.get_close_matches(name, [*self.list_commands(ctx), *self.aliases])
            also = (f" Did you mean {' or '.join(repr(n) for n in near[:3])}?"
                    if near else "")
            raise click.UsageError(f"No such command '{name}'.{also}", ctx)
        return name, cmd, args[1:]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        other = {}
        for alias, name in self.aliases.items():
            other.setdefault(name, []).append(alias)
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((f"{name} ({', '.join(other[name])})" if name in other else name,
                             cmd))
        if rows:
            limit = formatter.width - 6 - max(len(n) for n, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])


class MlvcGroup(AliasedGroup):
    aliases = {"mv": "move", "rm": "remove", "list": "ls", "list-url": "ls-url",
               "experiments": "exp"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd_name = self.aliases.get(cmd_name, cmd_name)
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        return _with_global_flags(getattr(importlib.import_module(module), attr))

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            raise _restyled(exc) from None

    def invoke(self, ctx: click.Context):
        from mlvc.errors import NO_SPACE_HINT, MlvcError, is_no_space

        try:
            return super().invoke(ctx)
        except MlvcError as exc:
            _report(ctx, exc.message, exc.hint, exc)
            ctx.exit(1)
        except click.ClickException as exc:
            raise _restyled(exc) from None
        except (click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            from mlvc.procs import Terminated

            if isinstance(exc, Terminated):  # (SIGTERM: as a process it ended, 128 + 15)
                click.echo("error: terminated", err=True)
                ctx.exit(143)
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # The reader went away (`mlvc status | head`): stop quietly, with the code of a
            # process that SIGPIPE ended, as git does.
            _stdout_to_devnull()
            ctx.exit(141)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            hint = None
            if is_no_space(exc):
                hint = (f"{NO_SPACE_HINT}. `mlvc config cache.dir PATH` moves the cache to "
                        "another disk")
            _report(ctx, f"{exc.strerror or exc}{where}", hint, exc)
            ctx.exit(1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            hint = _database_hint(exc)
            if hint is not None:
                _report(ctx, f"mlvc's database in .mlvc/tmp failed: {exc}", hint, exc)
                ctx.exit(1)
            _report(ctx, f"unexpected {type(exc).__name__}: {exc}",
                    "this is a bug in mlvc; run again with -v and report the traceback", exc)
            ctx.exit(1)


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that flushing it at exit cannot fail again."""
    import os
    import sys

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner)
        pass


def _restyled(exc: click.ClickException) -> click.ClickException:
    """Make click's own errors (a usage error, a bad option value) print as mlvc's do
    (SPEC 5): an ``error:`` line, then the usage and a ``hint:`` for usage errors. The exit
    code stays click's: 2 for usage errors."""
    def show(file=None) -> None:
        from mlvc.cli.render import printable

        click.echo(f"error: {printable(exc.format_message())}", err=True)
        ctx = exc.ctx if isinstance(exc, click.UsageError) else None
        if ctx is not None:
            click.echo(ctx.get_usage(), err=True)
            what = ("lists the commands and options" if isinstance(ctx.command, click.Group)
                    else "describes the arguments and options")
            click.echo(f"hint: `{ctx.command_path} --help` {what}", err=True)

    exc.show = show  # type: ignore[method-assign]
    return exc


def _with_global_flags(cmd: click.Command) -> click.Command:
    """Let ``-q`` and ``-v`` also follow the command (``mlvc add -q data``), as in DVC; a
    command's own ``-q`` (``status -q``) keeps its meaning and also quiets the output."""
    if getattr(cmd, "_mlvc_flags", False):
        return cmd
    taken = {o for p in cmd.params for o in getattr(p, "opts", ())}
    for short, long, what in (("-q", "--quiet", "Print only errors; no progress bars."),
                              ("-v", "--verbose", "Print more, and tracebacks on errors.")):
        if short not in taken and long not in taken:
            cmd.params.append(click.Option([short, long], is_flag=True, expose_value=False,
                                           callback=_set_flag, help=f"{what} (Also global.)"))
        elif short == "-q":
            own = next(p for p in cmd.params if {short, long} & set(getattr(p, "opts", ())))
            own.callback = _set_flag
    for sub in getattr(cmd, "commands", {}).values():
        _with_global_flags(sub)
    cmd._mlvc_flags = True
    return cmd


def _set_flag(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """Turn on the global setting ``--quiet`` or ``--verbose`` for the whole invocation."""
    settings = ctx.find_object(Settings)
    flag = "quiet" if {"-q", "--quiet"} & set(param.opts) else "verbose"
    if value and settings is not None:
        new = replace(settings, **{flag: True})
        node: click.Context | None = ctx
        while node is not None:
            if node.obj is settings:
                node.obj = new
            node = node.parent
    return value


def _database_hint(exc: BaseException) -> str | None:
    """The hint for a failure of one of mlvc's SQLite files (the state DB in .mlvc/tmp, or
    a remote's index in .mlvc/tmp/remotes), by SQLite's error name; None for any other error.

    Both only remember what can be found again (hashes, verification records, what a remote
    holds), so deleting a damaged one loses nothing but time.
    """
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None or not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name == "SQLITE_FULL" or name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN",
                                                 "SQLITE_READONLY")):
        return ("free some disk space, and check that .mlvc/tmp is writable; then run the "
                "command again")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return ("the file is damaged. It only remembers what mlvc can find again, so deleting "
                ".mlvc/tmp/state.db (and .mlvc/tmp/remotes/) is safe: mlvc then hashes the "
                "files and asks the remotes again")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "another mlvc process kept it busy: run the command again once that one is done"
    return None


def _report(ctx: click.Context, message: str, hint: str | None, exc: BaseException) -> None:
    settings = ctx.find_object(Settings)
    if settings is not None and settings.verbose:
        import traceback  # only on an error: it costs ~15 ms of every start-up

        traceback.print_exception(exc, file=sys.stderr)
    from mlvc.cli.render import printable

    click.echo(f"error: {printable(message)}", err=True)
    if hint:
        click.echo(f"hint: {printable(hint)}", err=True)


@click.group("mlvc", cls=MlvcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "--cd", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Run as if mlvc was started in DIR (--cd: DVC's name).", metavar="DIR")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors; no progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="Print more, and tracebacks on errors.")
@click.option("--wait-for-lock", is_flag=True,
              help="Wait for another mlvc process's lock on the project (DVC's option: "
                   "mlvc always waits, and says so).")
@click.version_option(__version__, "-V", "--version", prog_name="mlvc",
                      message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, quiet: bool, verbose: bool,
        wait_for_lock: bool) -> None:
    """mlvc: version data and models next to git, rebuild pipelines, explain changes.

    Run `mlvc COMMAND --help` for the options of a command.
    """
    cwd = (directory or Path.cwd()).absolute()
    if directory is not None and not cwd.is_dir():
        raise click.BadParameter(f"{directory} is not a folder", param_hint="-C")
    ctx.obj = Settings(cwd, quiet, verbose)


def main(argv: list[str] | None = None) -> None:
    _tune_gc()
    _stop_on_sigterm()
    cli.main(args=argv, prog_name="mlvc")


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, ``docker stop``, a CI job cancelled) stops mlvc as Ctrl-C does:
    cleaning up, passing it on to the commands it runs; not at once, leaving them running."""
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        from mlvc.procs import raise_terminated

        signal.signal(signal.SIGTERM, raise_terminated)


def _tune_gc() -> None:
    """Make the cyclic garbage collector rare, as mypy does.

    A command holds tens of thousands of small objects at once (a scan, a plan, state
    rows), none of them in reference cycles: reference counting frees them. With CPython's
    default thresholds the collector still walks the whole heap each time it grows by a
    quarter: 0.59 s of a 2.6 s hard-linked checkout of 50,000 files. Young cycles are
    still collected, less often; what was imported is frozen out of every collection.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
