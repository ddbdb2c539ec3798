"""Project commands: init, destroy, config, doctor, install, completion, root."""

from __future__ import annotations

import click

from mlvc.cli.render import (
    asking,
    count,
    echo,
    echo_json,
    jobs_option,
    json_option,
    level_options,
    open_repo,
    printable,
    progress,
    settings,
)


@click.command("init")
@click.option("--no-scm", is_flag=True, help="Use mlvc without git.")
@click.option("-f", "--force", is_flag=True,
              help="Re-create the project files if they exist; or make a separate project "
                   "inside another one, whose commands then leave this folder alone.")
@click.option("--subdir", is_flag=True,
              help="As DVC's (for its scripts): a folder below the top of a git repository "
                   "becomes a project with or without it.")
@json_option
def init_cmd(no_scm, force, subdir, as_json):
    """Make the current folder an mlvc project (creates .mlvc/ and .mlvcignore)."""
    from mlvc.ops.init import init

    result = init(settings().cwd, no_scm=no_scm, force=force)
    if as_json:
        echo_json(result.to_json())
        return
    echo(f"Initialized mlvc project in {result.root}")
    if result.staged:
        echo("Staged in git: " + " ".join(result.staged)
             + "\nCommit them with: git commit -m 'Initialize mlvc'")
    if result.not_staged:
        echo("Not staged, as git ignores them here: " + " ".join(result.not_staged))


@click.command("destroy")
@click.option("-f", "--force", is_flag=True, help="Do not ask first.")
@jobs_option
@json_option
def destroy_cmd(force, jobs, as_json):
    """Take mlvc out of this project, keeping the workspace's data (as `dvc destroy`).

    Deletes every pointer file, mlvc.yaml, mlvc.lock, .mlvcignore, the git hooks of
    `mlvc install`, and .mlvc/ with the cache in it (a cache set elsewhere with cache.dir is
    kept). Tracked files that are links to the cache become copies first. Versions of the
    data that the workspace does not hold go with the cache: `mlvc push` keeps them on the
    remote. Asks first, unless -f.
    """
    from mlvc.cli import render
    from mlvc.ops.destroy import destroy

    with open_repo() as repo:
        result = asking(lambda forced: destroy(repo, force=forced, jobs=jobs,
                                               progress=progress()),
                        force, "Destroy the project?")
    if as_json:
        echo_json(result.to_json())
        return
    echo(f"Removed {', '.join(printable(p) for p in result.removed)}.")
    if result.unprotected:
        echo(f"Made {count(result.unprotected, 'linked file')} private copies.")
    if not result.cache_removed:
        echo(f"Kept the cache at {printable(result.cache)} (outside the project).")
    if result.hooks:
        import os

        echo("Removed the git hooks of `mlvc install`: "
             + ", ".join(os.path.basename(h) for h in result.hooks) + ".")
    echo("The workspace's data stays, with its .gitignore entries.")
    render.git_hint(repo.root, result, "To record this in git")


@click.command("migrate-dvc")
@click.option("--dry", is_flag=True, help="Say what would be taken over; change nothing.")
@click.option("-f", "--force", is_flag=True,
              help="Replace mlvc's remotes of the same names and an existing mlvc.yaml.")
@jobs_option
@json_option
def migrate_dvc_cmd(dry, force, jobs, as_json):
    """Take over the DVC project in this folder (run `mlvc init` first).

    \b
    Carried over: the remotes of .dvc/config (credentials of config.local go to
    .mlvc/config.local.yaml), the default remote, cache.type and core.autostage; dvc.yaml
    as mlvc.yaml (the same format: as it is when mlvc reads all of it, else with what mlvc
    does not read left out, and said; the stages of a dvc.yaml below the top merged in as
    FOLDER-NAME, with their wdir); the rules of .dvcignore into .mlvcignore; the data
    of each .dvc file, tracked again with `mlvc add` (mlvc hashes with xxh128, DVC with
    md5: `dvc pull` first, so the workspace has it), a `dvc import`'s or `dvc
    import-url`'s with its source; the stages dvc.lock shows up to date,
    each md5 and param checked against the workspace, recorded in mlvc.lock (the others
    run at `mlvc repro`). DVC's own files are left as they are.
    """
    from mlvc.cli import render
    from mlvc.ops.migrate import migrate_dvc

    with open_repo() as repo:
        result = migrate_dvc(repo, dry=dry, force=force, jobs=jobs, progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    verb = "Would take" if dry else "Took"
    if result.remotes:
        default = (f" (default: '{printable(result.default_remote)}')"
                   if result.default_remote else "")
        echo(f"{verb} over {count(len(result.remotes), 'remote')}: "
             f"{', '.join(printable(r) for r in result.remotes)}{default}.")
    if result.pipeline:
        echo(f"{verb} over the pipeline (dvc.yaml) as mlvc.yaml"
             + (" (as it is)." if result.pipeline_as_is else " (see the notes)."))
    if result.ignore_rules:
        echo(f"{verb} over {count(result.ignore_rules, 'rule')} of .dvcignore.")
    if result.added:
        echo(f"{'Would add' if dry else 'Added'} {count(len(result.added), 'output')} of "
             ".dvc files: " + ", ".join(printable(p) for p in result.added[:10])
             + (" …" if len(result.added) > 10 else ""))
    if result.recorded:
        echo(f"Recorded {count(len(result.recorded), 'stage')} in mlvc.lock that dvc.lock shows "
             f"up to date (every md5 and param checked): {', '.join(result.recorded)}.")
    for note in result.notes:
        echo(f"note: {printable(note)}")
    if not dry:
        render.git_hint(repo.root, result)


@click.group("cache")
def cache_cmd():
    """The cache's settings: `mlvc cache dir` (as `dvc cache dir`)."""


@cache_cmd.command("dir")
@click.argument("path", required=False)
@click.option("-u", "--unset", is_flag=True, help="Go back to the default, .mlvc/cache.")
@level_options
@json_option
def cache_dir_cmd(path, unset, level, as_json):
    """Print the cache folder, or set it to PATH (relative to the current folder; written
    relative to .mlvc/ in the project's files, so that it moves with the project).

    A cache outside the project can be shared by several projects (with cache.type
    hardlink or symlink, nothing is stored twice). Objects already in the old cache are
    not moved.
    """
    import os

    from mlvc.ops.config import set_cache_dir, unset_config

    s = settings()
    if unset and path:
        raise click.UsageError("give PATH or --unset, not both")
    if unset:
        unset_config(s.cwd, "cache.dir", level)
    elif path:
        entry = set_cache_dir(s.cwd, path, level)
        _warn([entry])
    with open_repo() as repo:
        where = os.path.realpath(repo.cache_dir)
    if as_json:
        echo_json({"cache_dir": where})
    else:
        echo(where)


@click.command("config")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--unset", is_flag=True, help="Remove KEY.")
@click.option("-l", "--list", "list_", is_flag=True,
              help="List the settings that are set (merged, or of one file); built-in "
                   "defaults are not listed: `mlvc config KEY` names them.")
@level_options
@click.option("--show-origin", is_flag=True, help="Show which file each value comes from.")
@json_option
def config_cmd(key, value, unset, list_, level, show_origin, as_json):
    """Read or write a setting: `mlvc config KEY` prints it, `mlvc config KEY VALUE` sets it.

    \b
    Keys: core.remote, core.jobs, core.autostage, cache.dir,
          cache.type (e.g. hardlink,copy), remotes.NAME.OPTION,
          plots.out_dir, plots.html_template, plots.auto_open,
          db.NAME.url/username/password (connections of `mlvc import-db`).
    Secrets (keys, passwords, tokens, and URLs holding a password) are never printed,
    and are written to .mlvc/config.local.yaml unless --project (or --global) is given.
    """
    from mlvc.ops import config as ops

    cwd = settings().cwd
    if list_ or key is None:
        if key is not None or unset:
            raise click.UsageError("--list takes no KEY and no --unset")
        entries = ops.list_config(cwd, level)
        _warn(entries)
        if as_json:
            echo_json({e.key: e.value for e in entries})
        for e in entries if not as_json else ():
            shown = _as_typed(e.value)
            click.echo(f"{e.level}\t{e.key}={shown}" if show_origin else f"{e.key}={shown}")
        return
    if unset:
        if value is not None:
            raise click.UsageError("--unset takes no VALUE")
        entry = ops.unset_config(cwd, key, level)
        if as_json:
            echo_json({"key": entry.key, "value": None, "level": entry.level})
        return
    if value is None:
        entry = ops.get_config(cwd, key, level)
        _warn((entry,))
        shown = _as_typed(entry.value)
        if as_json:
            echo_json({entry.key: entry.value})
        else:
            click.echo(f"{entry.level}\t{shown}" if show_origin else shown)
        return
    entry = ops.set_config(cwd, key, value, level)
    _warn((entry,))
    if as_json:
        echo_json({"key": entry.key, "value": entry.value, "level": entry.level})
    elif level is None and entry.level == "local":
        echo(f"{key} is a credential: written to .mlvc/config.local.yaml (git-ignored); "
             "--project writes it to .mlvc/config.yaml")


def _warn(entries) -> None:
    for entry in entries:
        for warning in entry.warnings:
            click.echo(f"warning: {warning}", err=True)


@click.command("doctor")
@json_option
def doctor_cmd(as_json):
    """Show versions, cache settings and the link types that work here."""
    from mlvc.ops.doctor import doctor

    report = doctor(settings().cwd)
    if as_json:
        echo_json(report.to_json())
        if report.problem is not None:
            raise SystemExit(1)
        return
    click.echo(f"mlvc {report.mlvc} (Python {report.python}, {report.platform})")
    click.echo("packages: " + ", ".join(f"{n} {v}" for n, v in report.packages))
    if report.root is None:
        click.echo("project: none here (run `mlvc init`)")
        return
    click.echo(f"project: {report.root}")
    if report.problem is not None:
        click.echo(f"error: {report.problem}", err=True)
        if report.problem_hint:
            click.echo(f"hint: {report.problem_hint}", err=True)
        raise SystemExit(1)
    click.echo(f"cache: {report.cache_dir}")
    click.echo(f"cache.type: {', '.join(report.cache_type)}")
    click.echo("link types that work here: "
               + ", ".join(k for k, ok in report.link_types if ok))
    click.echo("filesystems: " + ", ".join(f"{w} {t}" for w, t in report.filesystems))
    if not report.cache_type_works:
        click.echo("warning: no link type in cache.type works here: checkout cannot place files",
                   err=True)
        click.echo("hint: add one of the link types that work to cache.type, e.g. "
                   "`mlvc config cache.type hardlink,copy`", err=True)
    if report.root_writes_links:
        click.echo("warning: running as root with links to the cache (cache.type): the "
                   "read-only bit does not stop root, so editing a linked file in place "
                   "changes its cache object too", err=True)
        click.echo("hint: `mlvc unprotect` files before editing them, or use "
                   "`mlvc config cache.type reflink,copy`", err=True)
    for name, url in report.remotes:
        click.echo(f"remote {name}: {url}")


@click.command("version")
@json_option
@click.pass_context
def version_cmd(ctx, as_json):
    """Show versions, cache settings and the link types that work here (as `mlvc doctor`;
    `dvc version` is `dvc doctor` too)."""
    ctx.invoke(doctor_cmd, as_json=as_json)


def _as_typed(value: object) -> object:
    """A setting's value as one would type it: a list as ``hardlink,copy``."""
    return ",".join(map(str, value)) if isinstance(value, list) else value


@click.command("install")
@click.option("--use-pre-commit-tool", "pre_commit_tool", is_flag=True,
              help="Add the hooks to .pre-commit-config.yaml (the pre-commit framework's) "
                   "and run `pre-commit install` for them, if it is installed.")
@json_option
def install_cmd(pre_commit_tool, as_json):
    """Install git hooks that keep the data in step with git, as `dvc install` does.

    post-checkout runs `mlvc checkout` after git checks out a branch or commit; pre-commit
    shows `mlvc status`; pre-push runs `mlvc push` (a failed push stops git's). A hook file
    mlvc did not write is never overwritten: the command says what to add to it.
    """
    from mlvc.ops.install import HOOKS, PRE_COMMIT_CONFIG, install

    with open_repo() as repo:
        result = install(repo, pre_commit_tool=pre_commit_tool)
    if as_json:
        echo_json(result.to_json())
        return
    if pre_commit_tool:
        echo(f"Added mlvc's hooks to {printable(result.pre_commit_config)}: "
             + ", ".join(f"{name} (mlvc {command})" for name, command, _ in HOOKS) + ".")
        if result.pre_commit_ran:
            echo("Ran `pre-commit install` for them.")
        else:
            types = " ".join(f"--hook-type {name}" for name, _, _ in HOOKS)
            click.echo(f"warning: `pre-commit` is not installed here: `pip install "
                       f"pre-commit`, then `pre-commit install {types}` (and commit "
                       f"{PRE_COMMIT_CONFIG})", err=True)
        return
    import os

    folder = os.path.dirname(result.hooks[0])
    echo("Installed git hooks in " + printable(folder) + ": "
         + ", ".join(f"{name} (mlvc {command})" for name, command, _ in HOOKS) + ".")


@click.command("completion")
@click.option("-s", "--shell", type=click.Choice(["bash", "zsh", "fish"]), default=None,
              help="The shell (default: the one $SHELL names, else bash).")
def completion_cmd(shell):
    """Print the script that has your shell complete mlvc's commands, options and paths.

    Add it to the shell's start-up file, e.g. `eval "$(mlvc completion -s bash)"` in
    ~/.bashrc, `eval "$(mlvc completion -s zsh)"` in ~/.zshrc, or
    `mlvc completion -s fish > ~/.config/fish/completions/mlvc.fish`.
    """
    import os

    from click.shell_completion import get_completion_class

    from mlvc.cli.main import cli

    if shell is None:
        name = os.path.basename(os.environ.get("SHELL", ""))
        shell = name if name in ("bash", "zsh", "fish") else "bash"
    script = get_completion_class(shell)(cli, {}, "mlvc", "_MLVC_COMPLETE").source()
    click.echo(script)


@click.command("root")
@json_option
def root_cmd(as_json):
    """Print the project's top folder, relative to the current one (as `dvc root`):
    `cd $(mlvc root)`."""
    import os

    from mlvc.repo import find_root

    cwd = settings().cwd
    root = find_root(cwd)
    rel = os.path.relpath(root, os.path.realpath(cwd))
    if as_json:
        echo_json({"root": str(root), "relative": rel})
        return
    click.echo(rel)
