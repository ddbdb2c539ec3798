"""Small helpers shared by the commands to open the repo and print results."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import click

from mlvc import MAX_JOBS
from mlvc.cli.main import Settings

LIST_LIMIT = 20


# Characters a terminal may act on (C0 and C1 controls: escape sequences, carriage returns)
# and lone surrogates (a file name that is not UTF-8, as Python decodes it). Compiled on
# first use: ~2 ms that a command printing nothing (or `mlvc --help`) does not pay.
_ESCAPES = {"\n": r"\n", "\t": r"\t", "\r": r"\r", '"': r'\"', "\\": "\\\\"}


@cache
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    return (re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]"),  # keeps \t and \n
            re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]"),
            re.compile(r'[\x00-\x1f\x7f-\x9f\ud800-\udfff"\\]'))


def _escape(match: re.Match) -> str:
    ch = match.group()
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters (but newlines and tabs) and undecodable bytes shown
    as escapes: a file name cannot move the cursor, recolour the terminal or crash output."""
    return _patterns()[0].sub(_escape, text)


def shown(path: str) -> str:
    """A project path for people: relative to the folder they are in, as git shows paths
    (``../data`` from a sub-folder; as recorded at the root, and with ``--json``), and
    C-quoted like git when it has a control character (a newline too) or a byte that is not
    UTF-8."""
    from mlvc.paths import seen_from

    path = seen_from(path, here())
    _, quote_if, quoted = _patterns()
    return f'"{quoted.sub(_escape, path)}"' if quote_if.search(path) else path


_HERE = "mlvc.here"  # the context's note of the current folder, as a project path


def here() -> str | None:
    """The folder the user is in, as a project path, once ``open_repo`` has found it (None
    before, or outside the project): see :func:`mlvc.paths.seen_from`."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(_HERE)


def settings() -> Settings:
    return click.get_current_context().find_object(Settings)


def open_repo():
    from mlvc.paths import folder_in
    from mlvc.repo import Repo

    s = settings()
    repo = Repo.find(s.cwd, on_lock_wait=lambda: click.echo(
        "Waiting for another mlvc process to release the repository lock…", err=True))
    click.get_current_context().meta[_HERE] = folder_in(repo.root, s.cwd)
    return repo


def progress(quiet: bool = False):
    """Progress bars, unless the global -q (or the command's own ``quiet``) silences them."""
    from mlvc.cli.progress import progress_for

    return progress_for(settings().quiet or quiet)


def asking(run, force: bool, question: str):
    """``run(force)``; when the operation asks for confirmation (ConfirmationRequired) and a
    person can answer, ``question`` after its message, and ``run(True)`` on yes. Without a
    terminal the refusal stands (its hint names ``--force``)."""
    from mlvc.errors import ConfirmationRequired

    try:
        return run(force)
    except ConfirmationRequired as exc:
        if not interactive():
            raise
        click.confirm(f"{exc.message}. {question}", abort=True, err=True)
        return run(True)


def interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    import sys

    return sys.stdin.isatty()


def echo(text: str = "") -> None:
    if not settings().quiet:
        click.echo(printable(text))


def echo_json(doc: object) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8: JSON's \udcXX escapes carry it
        text = json.dumps(doc, indent=2)
    click.echo(text)


def echo_list(label: str, paths, indent: str = "  ") -> None:
    paths = list(paths)
    for p in paths[:LIST_LIMIT]:
        echo(f"{indent}{label + ':':<18}{shown(p)}")
    if len(paths) > LIST_LIMIT:
        echo(f"{indent}{'':<18}… and {len(paths) - LIST_LIMIT} more ({label})")


def one_format(**chosen: bool) -> None:
    """A usage error when more than one output format is chosen (``md=…, json=…``)."""
    names = [f"--{name}" for name, on in chosen.items() if on]
    if len(names) > 1:
        flags = [f"--{name}" for name in chosen]
        listed = " and ".join(flags) if len(flags) == 2 else \
            ", ".join(flags[:-1]) + f" and {flags[-1]}"
        raise click.UsageError(f"{listed} are {'two ' if len(flags) == 2 else ''}formats: "
                               "choose one")


def warn_all(warnings) -> None:
    for warning in warnings:
        click.echo(f"warning: {printable(warning)}", err=True)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(f)


def no_path_option(f):
    """``--no-path`` of the params and metrics comparisons (as DVC's)."""
    return click.option(
        "--no-path", "no_path", is_flag=True,
        help="Leave out the file of each value (in the text and Markdown; not in --json).")(f)


def level_options(f):
    """--project, --local, --global, --system: which config file (``level``; None when none
    is given)."""
    levels = (("project", "Use .mlvc/config.yaml (the default for writing)."),
              ("local", "Use .mlvc/config.local.yaml (git-ignored, for this machine; the "
                        "default for credentials)."),
              ("global", "Use the user's config ($XDG_CONFIG_HOME/mlvc/config.yaml)."),
              ("system", "Use the machine's config, for every user "
                         "($XDG_CONFIG_DIRS/mlvc/config.yaml, /etc/xdg by default)."))
    for flag, help_ in reversed(levels):  # (click lists them in the order applied, reversed)
        f = click.option(f"--{flag}", "level", flag_value=flag, help=help_)(f)
    return f


def jobs_option(f, *also: str):
    """``-j/--jobs N``; ``also``: other names of it (DVC's ``--remote-jobs``)."""
    return click.option("-j", "--jobs", *also, "jobs", type=click.IntRange(1, MAX_JOBS),
                        metavar="N", help="Number of threads for I/O (default: core.jobs)."
                        + (f" {', '.join(also)}: DVC's name." if also else ""))(f)


def to_remote_options(what: str, remote_jobs: bool = False):
    """``--to-remote`` and ``-r/--remote``, then ``-j``: ``what`` is sent straight to the
    remote (``add -o``, ``import-url``, ``update``), as DVC's. ``remote_jobs``: ``-j`` is
    also named ``--remote-jobs`` (DVC's name on ``add``)."""
    def decorate(f):
        f = jobs_option(f, *(("--remote-jobs",) if remote_jobs else ()))
        f = click.option("-r", "--remote", metavar="NAME",
                         help="Remote for --to-remote (default: core.remote).")(f)
        return click.option(
            "--to-remote", is_flag=True,
            help=f"Send {what} straight to the remote (no copy in the cache or the "
                 "workspace), for data larger than this disk; `mlvc pull OUT` gets it.")(f)
    return decorate


def source_remote_options(f):
    """``--remote NAME`` and ``--remote-config KEY=VALUE`` (as DVC's ``get``, ``import`` and
    ``list``): which remote of REPO its data comes from, and options over that remote's
    own, given to the command as ``via`` (a :class:`~mlvc.workspace.pointer.SourceRemote`)."""
    import functools

    @functools.wraps(f)
    def chosen(*args, source_remote: str | None = None, remote_config: tuple[str, ...] = (),
               config_file: str | None = None, **kwargs):
        from mlvc.config import NAME
        from mlvc.workspace.pointer import SourceRemote

        if source_remote is not None and not NAME.fullmatch(source_remote):
            raise click.BadParameter(f"'{source_remote}' is not a remote's name",
                                     param_hint="--remote")
        via = SourceRemote(source_remote, key_values(remote_config, "--remote-config"))
        if config_file is not None:
            from mlvc.ops.get import config_file_remote

            via = config_file_remote(settings().cwd / config_file, via)
        kwargs["via"] = via
        return f(*args, **kwargs)

    chosen = click.option(
        "--config", "config_file", metavar="FILE",
        help="A config file (mlvc's YAML, or DVC's) whose core.remote and remotes' options "
             "REPO's data is read through, under --remote and --remote-config.")(chosen)
    chosen = click.option(
        "--remote-config", "remote_config", multiple=True, metavar="KEY=VALUE",
        help="An option of that remote over REPO's own (repeatable): endpoint_url=…, "
             "profile=…, or credentials (not with `import`, whose pointer git keeps).")(chosen)
    return click.option("--remote", "source_remote", metavar="NAME",
                        help="Which of REPO's remotes its data comes from (default: its "
                             "default remote).")(chosen)


def key_values(items, option: str) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` items of ``option`` (options of a remote or filesystem, named as `mlvc
    remote modify` takes them), sorted by key; the last of a key wins."""
    from mlvc.config import NAME

    options: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not NAME.fullmatch(key):
            raise click.BadParameter(f"'{item}' is not KEY=VALUE (an option, as `mlvc remote "
                                     "modify` takes it)", param_hint=option)
        options[key] = value
    return tuple(sorted(options.items()))


def fs_config_option(f):
    """``--fs-config KEY=VALUE`` (as DVC's), given to the command as ``fs_config``."""
    import functools

    @functools.wraps(f)
    def parsed(*args, fs_config: tuple[str, ...] = (), **kwargs):
        return f(*args, fs_config=key_values(fs_config, "--fs-config"), **kwargs)

    return click.option(
        "--fs-config", "fs_config", multiple=True, metavar="KEY=VALUE",
        help="An option of the URL's filesystem (repeatable): endpoint_url=…, anon=true, "
             "region=… — over those of a remote the URL is under.")(parsed)


def value_text(v: object, precision: int | None = None, missing: str = "—") -> str:
    """A param's or metric's value for people: a decimal number to ``precision``
    significant digits (default: as written), ``true``/``false`` as YAML writes them,
    ``missing`` for none."""
    if v is None:
        return missing
    if isinstance(v, float) and precision is not None:
        return f"{v:.{precision}g}"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def target_options(f):
    """``-d/--with-deps``, ``--glob``: TARGETS' shell-style patterns are expanded over what
    mlvc tracks (see :func:`mlvc.ops.glob_targets`) before the command sees them, and
    DVC's ``-R``, which mlvc needs not: a folder target covers everything tracked in it."""
    import functools

    @functools.wraps(f)
    def expanded(*args, glob: bool = False, recursive: bool = False, **kwargs):
        if glob and kwargs.get("targets"):
            from mlvc.ops import glob_targets

            with open_repo() as repo:
                kwargs["targets"] = tuple(glob_targets(repo, list(kwargs["targets"]),
                                                       settings().cwd))
        return f(*args, **kwargs)

    expanded = click.option(
        "--glob", is_flag=True,
        help="TARGETS may be shell-style patterns ('data/*.csv', 'models/**'; quoted), "
             "matched against what is tracked, here or not.")(expanded)
    expanded = click.option(
        "-R", "--recursive", is_flag=True,
        help="As DVC's (for its scripts): a folder in TARGETS always covers everything "
             "tracked in it, at any depth, with or without -R.")(expanded)
    return click.option("-d", "--with-deps", is_flag=True,
                        help="With TARGETS: also the data of every stage upstream of them "
                             "(their outputs, and the tracked data they depend on).")(expanded)


def count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 file", "3 files"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def git_hint(root: Path, result, what: str = "To track the changes with git") -> None:
    """Tell the user how to record ``result.git_files`` in git, or that mlvc staged them.

    The paths are relative to the folder the user is in, like git's own, so the command
    works pasted as it is from a sub-folder too. More than ``LIST_LIMIT`` files are named
    by their folders when ``git add`` of those stages exactly them (``short_git_add``);
    ``--json`` lists them all.
    """
    files = result.git_files
    if not files:
        return
    import os
    import shlex

    here, top = os.path.realpath(settings().cwd), os.path.realpath(root)

    def line(paths) -> str:
        shown = [os.path.relpath(os.path.join(top, p), here) for p in paths]
        dashes = "-- " if any(p.startswith("-") for p in shown) else ""
        return dashes + " ".join(shlex.quote(p) for p in shown)

    if result.staged:
        if len(files) > LIST_LIMIT:
            echo(f"\nStaged {count(len(files), 'file')} in git (`--json` lists them).")
        else:
            echo(f"\nStaged in git: {line(files)}")
        return
    folders = None
    if len(files) > LIST_LIMIT:
        from mlvc.ops import short_git_add

        folders = short_git_add(root, files)
    if folders is None:
        echo(f"\n{what}, run:\n\n\tgit add {line(files)}\n")
    else:
        where = "That folder holds" if len(folders) == 1 else "Those folders hold"
        echo(f"\n{what}, run:\n\n\tgit add {line(folders)}\n\n{where} the "
             f"{len(files)} changed files and no other change (`--json` lists them).\n")
