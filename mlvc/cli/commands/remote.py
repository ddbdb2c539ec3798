"""Remote commands: remote add/list/remove/default/modify, push, fetch, pull."""

from __future__ import annotations

import click

from mlvc.cli.render import (
    LIST_LIMIT,
    count,
    echo,
    echo_json,
    fs_config_option,
    git_hint,
    human_size,
    jobs_option,
    json_option,
    level_options,
    open_repo,
    printable,
    progress,
    settings,
    shown,
    source_remote_options,
    target_options,
    to_remote_options,
)


@click.group("remote")
def remote_cmd():
    """Manage remotes: where `push` sends objects and `pull` gets them.

    \b
    A remote is a local or NFS folder, an s3:// URL, or any fsspec URL (gs://, az://,
    ssh://, … once that filesystem's package is installed).
    """


@remote_cmd.command("add")
@click.argument("name")
@click.argument("url")
@click.option("-d", "--default", is_flag=True, help="Make it the default remote.")
@level_options
@click.option("-f", "--force", is_flag=True, help="Replace a remote of the same name.")
@json_option
def remote_add_cmd(name, url, default, level, force, as_json):
    """Add remote NAME at URL (a folder path, s3://bucket/prefix, …).

    A relative folder path is taken from the current folder and stored relative to the
    project root (absolute in the --global and --system files, which work outside a
    project too and serve every project).
    """
    from mlvc.ops.remote import add_remote

    info = add_remote(settings().cwd, name, url, default=default, level=level or "project",
                      force=force)
    if as_json:
        echo_json(info.to_json())
        return
    echo(f"Added remote '{info.name}': {info.url}" + (" (default)" if info.default else ""))


@remote_cmd.command("list")
@level_options
@json_option
def remote_list_cmd(level, as_json):
    """List the remotes, their URLs and options (secrets masked): those in effect, or those
    one config file defines."""
    from mlvc.ops.remote import list_remotes

    remotes = list_remotes(settings().cwd, level)
    if as_json:
        echo_json([r.to_json() for r in remotes])
        return
    if not remotes:
        click.echo("No remotes. Add one with `mlvc remote add -d NAME URL`.")
    for r in remotes:
        click.echo(f"{r.name}\t{r.url}" + ("\t(default)" if r.default else ""))
        for key, value in r.options:
            click.echo(f"  {key}={value}")


@remote_cmd.command("remove")
@click.argument("name")
@level_options
@json_option
def remote_remove_cmd(name, level, as_json):
    """Remove remote NAME from the project and local config, or from the one file given
    (the remote's data stays)."""
    from mlvc.ops.remote import remove_remote

    remove_remote(settings().cwd, name, level)
    if as_json:
        echo_json({"removed": name})
        return
    echo(f"Removed remote '{name}'.")


@remote_cmd.command("rename")
@click.argument("old", metavar="NAME")
@click.argument("new", metavar="NEW_NAME")
@level_options
@json_option
def remote_rename_cmd(old, new, level, as_json):
    """Rename remote NAME to NEW_NAME, in the project and local config, or in the one file
    given (and as the default remote); its options and data stay as they are."""
    from mlvc.ops.remote import rename_remote

    info = rename_remote(settings().cwd, old, new, level)
    if as_json:
        echo_json(info.to_json())
        return
    echo(f"Renamed remote '{old}' to '{new}'.")


@remote_cmd.command("default")
@click.argument("name", required=False)
@click.option("--unset", is_flag=True, help="Have no default remote.")
@level_options
@json_option
def remote_default_cmd(name, unset, level, as_json):
    """Show the default remote, or make NAME the default."""
    from mlvc.ops.remote import default_remote

    if unset and name:
        raise click.UsageError("--unset takes no NAME")
    current = default_remote(settings().cwd, name, unset=unset, level=level or "project")
    if as_json:
        echo_json({"default": current})
        return
    if unset:
        echo("No default remote now.")
    elif name is not None:
        echo(f"The default remote is now '{current}'.")
    elif current is None:
        from mlvc.errors import RemoteError

        raise RemoteError("no default remote is set",
                          hint="set one with `mlvc remote default NAME`")
    else:
        click.echo(current)


def config_file_name(level: str) -> str:
    """The config file of ``level`` as messages name it."""
    from mlvc import config as cfg

    return cfg.display(cfg.ConfigFiles.outside().path(level), level)


@remote_cmd.command("modify")
@click.argument("name")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--unset", is_flag=True, help="Remove the option.")
@level_options
@json_option
def remote_modify_cmd(name, key, value, unset, level, as_json):
    """Set an option of remote NAME: url, endpoint_url, region, profile, access_key_id,
    secret_access_key, session_token, or any option of its fsspec filesystem.

    Credentials go to .mlvc/config.local.yaml (git-ignored) unless --project is given.
    """
    from mlvc.ops.remote import modify_remote

    if unset and value is not None:
        raise click.UsageError("--unset takes no VALUE")
    where, shown = modify_remote(settings().cwd, name, key, value, unset=unset, level=level)
    file = config_file_name(where)
    if as_json:
        echo_json({"remote": name, "key": key, "value": None if unset else shown,
                   "file": file})
        return
    echo(f"Unset {key} of remote '{name}' in {file}." if unset
         else f"Set {key}={shown} for remote '{name}' in {file}.")


def _revision_options(f):
    f = target_options(f)
    f = click.option("-A", "--all-commits", is_flag=True,
                     help="Objects of every commit in the git history.")(f)
    f = click.option("-T", "--all-tags", is_flag=True, help="Objects of every git tag.")(f)
    f = click.option("-a", "--all-branches", is_flag=True,
                     help="Objects of every git branch (local and remote-tracking).")(f)
    f = click.option("-r", "--remote", metavar="NAME",
                     help="Remote to use (default: core.remote).")(f)
    f = click.option("--run-cache", is_flag=True,
                     help="Also transfer run-cache records of `mlvc repro`, with their "
                          "outputs, so stages that ran elsewhere are restored, not re-run.")(f)
    return f


def _report(result, verb: str) -> None:
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    size = human_size(result.nbytes)
    if result.transferred:
        where = f"'{result.remote}'" if result.remote else "the sources of imported data"
        echo(f"{verb} {count(result.transferred, 'object')}, {size}, "
             f"{'to' if verb == 'Pushed' else 'from'} {where}"
             + (f"; {result.present} {'was' if result.present == 1 else 'were'} there already."
                if result.present else "."))
    elif result.ok:
        where = f"Remote '{result.remote}'" if verb == "Pushed" else "The cache"
        echo(f"{where} has {'the' if result.present == 1 else 'all'} "
             f"{count(result.present, 'object')} already: nothing to transfer.")
    if result.runs:
        echo(f"{verb} {count(result.runs, 'run-cache record')}.")
    if result.recorded:
        n = len(result.recorded)
        echo(f"Recorded the data of {count(n, 'pending import')}, read from "
             f"{'its source' if n == 1 else 'their sources'}, in "
             f"{', '.join(map(shown, result.recorded))} (`git commit` "
             f"{'it' if n == 1 else 'them'}).")
    report_failures(result)


def report_failures(result, brief: bool = False, head: str | None = None) -> None:
    """On stderr, in text and JSON modes alike (JSON goes to stdout). ``head`` replaces the
    first line's "error: N objects did not transfer"."""
    if result.failed:
        click.echo((head or f"error: {count(len(result.failed), 'object')} did not transfer")
                   + ("" if brief else ":"), err=True)
        if brief:
            return
        for f in result.failed[:LIST_LIMIT]:
            click.echo(f"  {shown(f.path)}  {f.oid}  {printable(f.reason)}", err=True)
        if len(result.failed) > LIST_LIMIT:
            click.echo(f"  … and {len(result.failed) - LIST_LIMIT} more", err=True)
        from mlvc.ops._remote import transfer_hint

        click.echo(f"hint: {transfer_hint(result.failed)}", err=True)


@click.command("push")
@click.argument("targets", nargs=-1)
@_revision_options
@jobs_option
@json_option
def push_cmd(targets, remote, run_cache, all_branches, all_tags, all_commits, with_deps, jobs,
             as_json):
    """Upload the objects of tracked data that the remote lacks.

    TARGETS are tracked data (a pointer file, an output, a path in a tracked folder) or
    stage names, which stand for a stage's cached outputs; without them, everything.
    """
    from mlvc.ops.push import push

    with open_repo() as repo:
        result = push(repo, list(targets), cwd=settings().cwd, remote=remote, jobs=jobs,
                      all_branches=all_branches, all_tags=all_tags, all_commits=all_commits,
                      run_cache=run_cache, with_deps=with_deps, progress=progress())
    if as_json:
        echo_json(result.to_json())
        report_failures(result, brief=True)
    else:
        _report(result, "Pushed")
    if not result.ok:
        raise SystemExit(1)


@click.command("fetch")
@click.argument("targets", nargs=-1)
@_revision_options
@click.option("--max-size", type=click.IntRange(0), metavar="BYTES",
              help="Only the outputs (files, or whole folders) whose recorded size is below "
                   "BYTES.")
@click.option("--type", "types", multiple=True, type=click.Choice(["metrics", "plots"]),
              help="Only the outputs that mlvc.yaml declares as metrics or plots "
                   "(repeatable).")
@jobs_option
@json_option
def fetch_cmd(targets, remote, run_cache, all_branches, all_tags, all_commits, with_deps,
              max_size, types, jobs, as_json):
    """Download into the cache the objects of tracked data that it lacks (no checkout).

    TARGETS are tracked data (a pointer file, an output, a path in a tracked folder) or
    stage names, which stand for a stage's cached outputs; without them, everything.
    """
    from mlvc.ops.fetch import fetch

    with open_repo() as repo:
        result = fetch(repo, list(targets), cwd=settings().cwd, remote=remote, jobs=jobs,
                       all_branches=all_branches, all_tags=all_tags, all_commits=all_commits,
                       run_cache=run_cache, with_deps=with_deps, max_size=max_size,
                       types=types, progress=progress())
    if as_json:
        echo_json(result.to_json())
        report_failures(result, brief=True)
    else:
        _report(result, "Fetched")
    if not result.ok:
        raise SystemExit(1)


@click.command("pull")
@click.argument("targets", nargs=-1)
@_revision_options
@click.option("-f", "--force", is_flag=True,
              help="Overwrite changed workspace files even if unsaved.")
@click.option("--allow-missing", is_flag=True,
              help="Data the remote lacks is a warning, not an error (the rest is pulled).")
@jobs_option
@json_option
def pull_cmd(targets, remote, run_cache, all_branches, all_tags, all_commits, with_deps, force,
             allow_missing, jobs, as_json):
    """Fetch from the remote, then check out: the workspace gets the recorded data.

    TARGETS are tracked data (a pointer file, an output, a path in a tracked folder) or
    stage names, which stand for a stage's cached outputs; without them, everything.
    """
    from mlvc.cli.commands.data import report_checkout
    from mlvc.ops.pull import pull

    with open_repo() as repo:
        result = pull(repo, list(targets), cwd=settings().cwd, remote=remote, jobs=jobs,
                      force=force, all_branches=all_branches, all_tags=all_tags,
                      all_commits=all_commits, run_cache=run_cache, with_deps=with_deps,
                      allow_missing=allow_missing, progress=progress())
    if as_json:
        echo_json(result.to_json())
        report_failures(result.fetched, brief=True)
    else:
        _report(result.fetched, "Fetched")
        report_checkout(result.checkout)
    if result.missing or result.skipped:
        paths = list(dict.fromkeys([*(f.path for f in result.missing),
                                    *(p for p, _ in result.skipped)]))
        listed = ", ".join(shown(p) for p in paths[:LIST_LIMIT])
        click.echo(f"warning: {count(len(result.missing), 'object')} not on remote "
                   f"'{printable(result.fetched.remote)}' (--allow-missing), "
                   f"{count(len(result.skipped), 'path')} not checked out: {listed}"
                   + (" …" if len(paths) > LIST_LIMIT else ""), err=True)
    if not result.ok:
        raise SystemExit(1)


@click.command("get")
@click.argument("repo_url", metavar="REPO")
@click.argument("path")
@click.option("--rev", metavar="REV", help="A git revision of REPO (default: its default "
                                           "branch).")
@click.option("-o", "--out", metavar="OUT", help="Where to write it (default: PATH's name, "
                                                 "here).")
@click.option("-f", "--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--show-url", is_flag=True,
              help="Print the URL of PATH's object on REPO's remote instead of copying it (a "
                   "file; one that travels in a pack has none).")
@source_remote_options
@jobs_option
@json_option
def get_cmd(repo_url, path, rev, out, force, show_url, via, jobs, as_json):
    """Copy PATH out of the mlvc project REPO, as REV records it, without tracking it here.

    REPO is what `git clone` takes (a URL or a path); PATH is relative to its top. Data mlvc
    tracks comes from REPO's cache when REPO is a folder here, else from REPO's default
    remote (or --remote), verified by hash either way; files git keeps come from git. Works
    outside any project.
    """
    from mlvc.ops.get import get

    if show_url:
        from mlvc.api import get_url

        url = get_url(path, repo=repo_url, rev=rev, remote=via.name,
                      remote_config=dict(via.config), cwd=settings().cwd)
        if as_json:
            echo_json({"url": url})
        else:
            click.echo(url)
        return
    result = get(repo_url, path, rev=rev, out=out, cwd=settings().cwd, force=force, via=via,
                 jobs=jobs, progress=progress())
    _report_got(result, as_json)


def _report_got(result, as_json: bool) -> None:
    if as_json:
        echo_json(result.to_json())
        return
    echo(f"Got {count(result.files, 'file')} ({human_size(result.nbytes)}) -> "
         f"{printable(result.out)}")


@click.command("import")
@click.argument("repo_url", metavar="REPO")
@click.argument("path")
@click.option("--rev", metavar="REV", help="A git revision of REPO (default: its default "
                                           "branch); `mlvc update` follows it.")
@click.option("-o", "--out", metavar="OUT", help="Where to put it in this project (default: "
                                                 "PATH's name, here).")
@click.option("-f", "--force", is_flag=True,
              help="Replace OUT and its pointer file if they exist.")
@click.option("--no-download", is_flag=True,
              help="Only record what the source holds (OUT.mlvc); `mlvc pull` gets the data "
                   "later, from the source.")
@click.option("--no-exec", is_flag=True,
              help="Only record REPO, PATH and REV (OUT.mlvc), asking nothing; `mlvc pull` "
                   "or `mlvc update` reads it later.")
@source_remote_options
@jobs_option
@json_option
def import_cmd(repo_url, path, rev, out, force, no_download, no_exec, via, jobs, as_json):
    """Track PATH of the mlvc project REPO here, recording where it came from (as
    `dvc import`: a data registry's use).

    PATH is read as REV of REPO records it (as `mlvc get` reads it), its objects are stored
    in this cache, and OUT.mlvc records the data and its source (REPO, PATH, REV and the
    commit read). OUT is then tracked data like any other (`status`, `push`, `pull`…);
    `mlvc update OUT` brings the source's newer version. --remote and --remote-config are
    recorded too, so `pull` and `update` read the source the same way.
    """
    from mlvc.ops.imports import import_

    with open_repo() as repo:
        result = import_(repo, repo_url, path, out=out, rev=rev, force=force,
                         cwd=settings().cwd, download=not no_download, execute=not no_exec,
                         via=via, jobs=jobs, progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    report_imports([result], repo.root)
    if no_download or no_exec:
        echo("Recorded, not downloaded: `mlvc pull` gets the data from its source.")


@click.command("update")
@click.argument("targets", nargs=-1, metavar="[TARGETS]...")
@click.option("--rev", metavar="REV", help="Follow this revision of the source from now on.")
@click.option("-f", "--force", is_flag=True,
              help="Replace changes of yours in the outputs (kept otherwise).")
@click.option("--no-download", is_flag=True,
              help="Only record the new version (of a URL: its fingerprint); `mlvc pull` "
                   "gets it.")
@click.option("-R", "--recursive", is_flag=True,
              help="TARGETS may be folders: every import within them.")
@to_remote_options("what a URL import's URL holds now")
@json_option
def update_cmd(targets, rev, force, no_download, recursive, to_remote, remote, jobs, as_json):
    """Bring imported data (`mlvc import`) up to its source: read each source again, at its
    recorded revision (or --rev), and record and check out what changed. TARGETS are pointer
    files or outputs (with -R, folders holding them); none means every import."""
    from mlvc.ops.imports import update

    if remote and not to_remote:
        raise click.UsageError("-r/--remote goes with --to-remote")
    if to_remote and no_download:
        raise click.UsageError("--to-remote and --no-download: choose one")
    with open_repo() as repo:
        results = update(repo, list(targets), rev=rev, force=force, cwd=settings().cwd,
                         download=not no_download, to_remote=to_remote, remote=remote,
                         jobs=jobs, recursive=recursive, progress=progress())
    if as_json:
        echo_json([r.to_json() for r in results])
    elif not results:
        echo("No imported data here (`mlvc import REPO PATH` imports some).")
    else:
        report_imports(results, repo.root, forced=force, sent=to_remote)
        if no_download and any(r.changed for r in results):
            echo("Recorded, not downloaded: `mlvc pull` gets the data from its source.")


def report_imports(results, root, forced: bool = False, sent: bool = False) -> None:
    """``sent``: the data went to the remote (--to-remote), not here."""
    from types import SimpleNamespace

    from mlvc.workspace.pointer import DbSource, UrlSource

    for r in results:
        src = r.source
        if isinstance(src, UrlSource):
            origin = src.url
        elif isinstance(src, DbSource):
            origin = (f"table {src.table}" if src.table is not None else "the query") + \
                f" of database '{src.connection}'"
        else:
            at = f"{src.rev} " if src.rev else ""
            origin = f"{src.url} {at}" + (f"({src.rev_lock[:8]})" if src.rev_lock else
                                          "(not read yet)")
        if not r.changed:  # (--force put it back as the source has it all the same)
            echo(f"{shown(r.path)}: up to date with {origin}"
                 + ("; put back as the source has it (--force)" if forced else ""))
            continue
        if r.out is None:
            what = "pending: not downloaded"
        else:
            what = (count(r.out.nfiles, "file") if r.out.type == "dir" else "1 file") + \
                f", {human_size(r.out.size)}"
        echo(f"{shown(r.path)}: "
             + ("" if isinstance(src, (UrlSource, DbSource)) else f"{src.path} of ")
             + f"{origin}, {what}")
        if r.checkout is not None and r.checkout.conflicts:
            echo(f"  kept changes of yours in {count(len(r.checkout.conflicts), 'file')} "
                 "(--force replaces them)")
        if sent:
            echo(f"  sent to the remote, not here: `mlvc pull {shown(r.path)}` gets it")
    files = [f for r in results for f in r.git_files]
    git_hint(root, SimpleNamespace(git_files=tuple(dict.fromkeys(files)),
                                   staged=any(r.staged for r in results)))


@click.command("get-url")
@click.argument("url")
@click.argument("out", required=False)
@click.option("-f", "--force", is_flag=True, help="Replace OUT if it exists.")
@fs_config_option
@json_option
def get_url_cmd(url, out, force, fs_config, as_json):
    """Copy the file or folder at URL to OUT (default: its name, here), without tracking
    it: any fsspec URL (s3://, https://, gs://…) or a path. Inside a project, a URL under a
    remote's URL is opened with that remote's options (credentials, endpoint)."""
    from mlvc.ops.import_url import get_url

    result = get_url(url, out, cwd=settings().cwd, force=force, fs_config=fs_config,
                     progress=progress())
    _report_got(result, as_json)


@click.command("ls-url")
@click.argument("url")
@click.option("-R", "--recursive", is_flag=True,
              help="List every file below URL, not only its first level.")
@click.option("-T", "--tree", is_flag=True,
              help="Every file (as -R), drawn as a tree of the folders below URL.")
@click.option("-L", "--level", type=click.IntRange(1), metavar="DEPTH",
              help="Every file (as -R) down to DEPTH folders below URL; a deeper folder is "
                   "one entry, with its files' total size.")
@click.option("--size", "with_size", is_flag=True,
              help="As DVC's: sizes are always shown (the first column).")
@fs_config_option
@json_option
def ls_url_cmd(url, recursive, tree, level, with_size, fs_config, as_json):
    """List the file or folder at URL (as `dvc ls-url`): any fsspec URL (s3://, https://,
    gs://…) or a path. Inside a project, a URL under a remote's URL is opened with that
    remote's options (credentials, endpoint)."""
    from mlvc.ops.import_url import ls_url

    entries = ls_url(url, cwd=settings().cwd, recursive=recursive or tree,
                     fs_config=fs_config, level=level)
    if as_json:
        echo_json([e.to_json() for e in entries])
        return
    if tree:
        from mlvc.cli.commands.diff import ls_tree

        ls_tree("", entries, printable, label=printable(url))
        return
    for e in entries:
        size = "" if e.size is None else human_size(e.size)
        echo(f"{size:>9}  {printable(e.path)}{'/' if e.type == 'dir' else ''}")


@click.command("import-url")
@click.argument("url")
@click.argument("out", required=False)
@click.option("-f", "--force", is_flag=True,
              help="Replace OUT and its pointer file if they exist.")
@click.option("--no-download", is_flag=True,
              help="Only record what URL holds (its fingerprint: ETag, checksum or size and "
                   "time); `mlvc pull` gets the data later, and checks it is still that.")
@click.option("--no-exec", is_flag=True,
              help="Only record URL, asking nothing; `mlvc pull` or `mlvc update` gets what "
                   "it holds then.")
@click.option("--version-aware", is_flag=True,
              help="Record each file's version id (a bucket with versioning on: s3, gs, "
                   "az); `mlvc pull` reads exactly those versions later.")
@to_remote_options("what URL holds")
@fs_config_option
@json_option
def import_url_cmd(url, out, force, no_download, no_exec, version_aware, to_remote, remote,
                   jobs, fs_config, as_json):
    """Copy the file or folder at URL into the project at OUT (default: its name, here) and
    track it, recording the URL and what it held (as `dvc import-url`); `mlvc update OUT`
    reads it again when it changed.

    URL is any fsspec URL (s3://, https://, gs://…) or a path outside the project; one under
    a remote's URL is opened with that remote's options. OUT is then tracked data like any
    other (`status`, `push`, `pull`…).
    """
    from mlvc.ops.import_url import import_url

    if remote and not to_remote:
        raise click.UsageError("-r/--remote goes with --to-remote")
    if to_remote and (no_download or no_exec):
        raise click.UsageError("--to-remote and --no-download/--no-exec: choose one")
    with open_repo() as repo:
        result = import_url(repo, url, out, cwd=settings().cwd, force=force,
                            to_remote=to_remote, remote=remote, jobs=jobs,
                            fs_config=fs_config, download=not no_download,
                            execute=not no_exec, version_aware=version_aware,
                            progress=progress())
    if as_json:
        echo_json(result.to_json())
        return
    report_imports([result], repo.root, sent=to_remote)
    if no_download or no_exec:
        echo("Recorded, not downloaded: `mlvc pull` gets the data from its source.")
