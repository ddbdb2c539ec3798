"""Comparing and listing versions: ``mlvc diff``, ``params``, ``metrics`` and ``ls``; each
parses, calls one op and renders the result as text, Markdown or JSON."""

from __future__ import annotations

import click

from mlvc.cli.render import (
    LIST_LIMIT,
    count,
    echo,
    echo_json,
    human_size,
    jobs_option,
    json_option,
    no_path_option,
    one_format,
    open_repo,
    printable,
    progress,
    settings,
    shown,
    source_remote_options,
    value_text,
    warn_all,
)


@click.command("diff")
@click.argument("a_rev", metavar="[A", required=False)
@click.argument("b_rev", metavar="[B]]", required=False)
@click.option("--targets", "targets", multiple=True, metavar="PATH",
              help="Compare only the data at or inside PATH (repeatable).")
@click.option("--md", is_flag=True, help="Print Markdown tables (for a pull request).")
@click.option("--show-hash", is_flag=True,
              help="Give the oids (old..new, first 8 digits) of each output and file that "
                   "changed; with --json, each change's `oids` by file.")
@click.option("--hide-missing", is_flag=True,
              help="DVC's option (hide files the cache lacks): mlvc's diff lists none "
                   "(`mlvc status` tells what the cache lacks).")
@click.option("-q", "--quiet", "quiet", is_flag=True,
              help="Print nothing; exit with 1 when anything differs.")
@jobs_option
@json_option
def diff_cmd(a_rev, b_rev, targets, md, show_hash, hide_missing, quiet, jobs, as_json):
    """Show what changed between two revisions, and why each metric moved.

    A is a git revision (default: HEAD), B another one (default: the workspace, as it is on
    disk). Four kinds of change are listed: data (files added, modified, deleted or renamed
    in each tracked output), params and metrics (old and new values, and the change), and
    stages whose mlvc.lock entries differ (against the workspace, also the stages out of
    date now). For each metrics file that changed, a trace follows the stage that wrote it
    back through the stages whose inputs changed, to the data, code and params that did.
    """
    from mlvc.ops.diff import diff

    s = settings()
    quiet = quiet or s.quiet
    one_format(md=md, json=as_json)
    with open_repo() as repo:
        result = diff(repo, a_rev, b_rev, targets=list(targets), cwd=s.cwd, jobs=jobs,
                      progress=progress(quiet))
    warn_all(result.warnings)
    if as_json:
        echo_json(result.to_json(hashes=show_hash))
    elif quiet:
        pass
    elif md:
        _markdown(result, show_hash)
    else:
        _text(result, show_hash)
    if quiet and not result.clean:
        raise SystemExit(1)



_value = value_text  # (params and metrics: "—" when missing)


def _delta(change, precision: int | None = None) -> str:
    d = change.delta
    if d is None:
        return ""
    if isinstance(d, float):
        return f"{d:+.{precision}g}" if precision is not None else f"{d:+g}"
    return f"{d:+d}"


def _change_line(c, precision: int | None = None, path: bool = True) -> str:
    """A param or metric change, for people: ``  file  key  old -> new  (+delta)`` (without
    ``path``, no file: ``--no-path``)."""
    delta = _delta(c, precision)
    return (f"  {shown(c.file) + '  ' if path else ''}{c.key}  {_value(c.old, precision)} -> "
            f"{_value(c.new, precision)}" + (f"  ({delta})" if delta else ""))


def change_header(path: bool = True) -> str:
    """The head of a Markdown table of :func:`change_row`'s (without ``path``, no file)."""
    return ("| file " if path else "") + "| key | old | new | change |\n" + (
        "|---" if path else "") + "|---|---|---|---|"


def change_row(c, precision: int | None = None, path: bool = True) -> str:
    """The same as a Markdown table row (file, key, old, new, change)."""
    return ((f"| {_md_cell(c.file)} " if path else "") + f"| {_md_cell(c.key)} | "
            f"{_md_cell(_value(c.old, precision))} | {_md_cell(_value(c.new, precision))} "
            f"| {_delta(c, precision)} |")


SHORT_OID = 8  # digits of an oid that --show-hash gives (as DVC's)


def _oids(old: str | None, new: str | None) -> str:
    """``1a2b3c4d..5e6f7a8b`` (one oid alone when the other side has none or the same)."""
    ends = [o[:SHORT_OID] for o in (old, new) if o is not None]
    return "..".join(dict.fromkeys(ends))


def _file_lines(d, hashes: bool = False) -> list[tuple[str, str, str]]:
    """(kind, path as shown, oids or "") of each file of an output that changed."""
    oids = d.oids_of() if hashes else {}

    def of(p) -> str:
        return _oids(*oids[p]) if p in oids else ""
    lines = [("modified", shown(p), of(p)) for p in d.modified]
    lines += [("added", shown(p), of(p)) for p in d.added]
    lines += [("deleted", shown(p), of(p)) for p in d.deleted]
    lines += [("renamed", f"{shown(r.old)} -> {shown(r.new)}", of(r.new)) for r in d.renamed]
    return lines


def _detail(d, hashes: bool = False) -> list[tuple[str, str, str]]:
    """The files of an output that changed; none for an output that is one file (its own
    line says it all)."""
    lines = _file_lines(d, hashes)
    return [] if len(lines) == 1 and lines[0][1] == shown(d.path) else lines


def _text(result, hashes: bool = False) -> None:
    echo(f"Comparing {result.a.label} with {result.b.label}:")
    if result.clean:
        echo("No changes in data, params, metrics or stages.")
        return
    if result.data:
        echo("\nData:")
        for d in result.data:
            oids = f"  {_oids(d.old_oid, d.new_oid)}" if hashes else ""
            echo(f"  {shown(d.path)} ({shown(d.pointer)}): {d.summary}{oids}")
            if d.unknown:
                echo(f"    files not compared: {d.unknown}")
            lines = _detail(d, hashes)
            for kind, what, oid in lines[:LIST_LIMIT]:
                echo(f"    {kind + ':':<10}" + (f"{oid} " if oid else "") + what)
            if len(lines) > LIST_LIMIT:
                echo(f"    … and {len(lines) - LIST_LIMIT} more (`--json` lists all)")
        if result.b.sha is None and any(d.new_oid is None for d in result.data):
            click.echo("hint: an output missing from the workspace shows as deleted; "
                       "`mlvc checkout` (or `mlvc pull` in a fresh clone) puts it back",
                       err=True)
    for title, changes in (("Params", result.params), ("Metrics", result.metrics)):
        if changes:
            echo(f"\n{title}:")
            for c in changes:
                echo(_change_line(c))
    if result.stages:
        echo("\nStages:")
        for st in result.stages:
            echo(f"  {st.stage}: {st.change}" + (f": {'; '.join(st.reasons)}"
                                                   if st.change != "added" and
                                                   st.change != "removed" else ""))
    for trace in result.traces:
        keys = ", ".join(c.key for c in trace.changes)
        echo(f"\nWhy {shown(trace.metric)} changed ({keys}):")
        _tree(trace.root, "  ", "  ")


def _tree(node, first: str, rest: str) -> None:
    label = {"stage": f"stage {node.name}", "param": f"param {node.name}",
             "cmd": "cmd", "data": shown(node.name), "file": shown(node.name),
             "note": shown(node.name)}[node.kind]
    echo(f"{first}{label}" + (f": {node.detail}" if node.detail else ""))
    for i, child in enumerate(node.children):
        last = i == len(node.children) - 1
        _tree(child, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))


def _md_cell(text: str) -> str:
    return printable(text).replace("|", "\\|")


def _markdown(result, hashes: bool = False) -> None:
    click.echo(f"## mlvc diff: {_md_cell(result.a.label)} → {_md_cell(result.b.label)}")
    if result.clean:
        click.echo("\nNo changes in data, params, metrics or stages.")
        return
    if result.data:
        head, rule = (" hash |", "---|") if hashes else ("", "")
        click.echo(f"\n### Data\n\n| path | change |{head}\n|---|---|{rule}")
        for d in result.data:
            oids = f" {_oids(d.old_oid, d.new_oid)} |" if hashes else ""
            click.echo(f"| {_md_cell(d.path)} | {_md_cell(d.summary)} |{oids}")
            lines = _detail(d, hashes)
            for kind, what, oid in lines[:LIST_LIMIT]:
                click.echo(f"| {_md_cell(what)} | {kind} |" + (f" {oid} |" if hashes else ""))
            if len(lines) > LIST_LIMIT:
                click.echo(f"| … | {len(lines) - LIST_LIMIT} more |" + (" |" if hashes else ""))
    for title, changes in (("Params", result.params), ("Metrics", result.metrics)):
        if changes:
            click.echo(f"\n### {title}\n\n{change_header()}")
            for c in changes:
                click.echo(change_row(c))
    if result.stages:
        click.echo("\n### Stages\n\n| stage | change | why |\n|---|---|---|")
        for st in result.stages:
            click.echo(f"| {_md_cell(st.stage)} | {st.change} | "
                       f"{_md_cell('; '.join(st.reasons))} |")
    for trace in result.traces:
        keys = ", ".join(c.key for c in trace.changes)
        click.echo(f"\n### Why {_md_cell(trace.metric)} changed ({_md_cell(keys)})\n")
        _md_tree(trace.root, "")


def _md_tree(node, indent: str) -> None:
    label = {"stage": f"stage **{node.name}**", "param": f"param `{node.name}`", "cmd": "cmd",
             "data": f"`{node.name}`", "file": f"`{node.name}`", "note": f"`{node.name}`"}
    click.echo(f"{indent}- {printable(label[node.kind])}"
               + (f": {printable(node.detail)}" if node.detail else ""))
    for child in node.children:
        _md_tree(child, indent + "  ")


# -- mlvc params / mlvc metrics ----------------------------------------------------------------

def _values_group(kind: str, what: str) -> click.Group:
    files = "params files" if kind == "params" else "metrics files"
    targets_option = click.option(
        "--targets", multiple=True, metavar="FILE",
        help=f"Only these {files} (repeatable), declared by a stage or not (all the keys "
             "of one no stage declares).")
    precision_option = click.option(
        "--precision", type=click.IntRange(1, 17), metavar="N",
        help="Significant digits of decimal numbers (default: as the files have them).")

    def recursive_option(f):  # (metrics alone, as DVC's)
        return f if kind != "metrics" else click.option(
            "-R", "--recursive", is_flag=True,
            help="A folder in --targets stands for the metrics files declared inside it, at "
                 "any depth.")(f)

    def deps_option(f):  # (params alone)
        return f if kind != "params" else click.option(
            "--deps", "param_deps", is_flag=True,
            help="Only the params stages depend on (not the files of the top-level "
                 "`params:`).")(f)

    @click.group(kind, help=f"Show the {what} of the workspace or of git revisions, and compare "
                            "them.")
    def group():
        pass

    @group.command("show")
    @click.argument("revs", nargs=-1, metavar="[REV]...")
    @click.option("-a", "--all-branches", is_flag=True,
                  help="Also every git branch, by name.")
    @click.option("-T", "--all-tags", is_flag=True, help="Also every git tag, by name.")
    @click.option("-A", "--all-commits", is_flag=True,
                  help="Every commit of the git history, and the workspace.")
    @targets_option
    @recursive_option
    @deps_option
    @precision_option
    @click.option("--md", is_flag=True, help="Print a Markdown table.")
    @json_option
    def show(revs, all_branches, all_tags, all_commits, targets, precision, md, as_json,
             param_deps=False, recursive=False):
        from mlvc.ops.diff import show_values

        one_format(md=md, json=as_json)
        with open_repo() as repo:
            result = show_values(repo, kind, list(revs), all_commits=all_commits,
                                 all_branches=all_branches, all_tags=all_tags,
                                 targets=list(targets), cwd=settings().cwd,
                                 param_deps=param_deps, recursive=recursive)
        warn_all(result.warnings)
        if as_json:
            echo_json(result.to_json())
            return
        several = len(result.sides) > 1
        if md:
            head, rule = ("| rev ", "|---") if several else ("", "")
            click.echo(f"{head}| file | key | value |\n{rule}|---|---|---|")
        for sv in result.sides:
            if md:
                for v in sv.values:
                    rev = f"| {_md_cell(sv.side.label)} " if several else ""
                    click.echo(f"{rev}| {_md_cell(v.file)} | {_md_cell(v.key)} | "
                               f"{_md_cell(_value(v.value, precision))} |")
                continue
            indent = "  " if several else ""
            if several:
                echo(f"{sv.side.label}:")
            if not sv.values and not sv.missing:
                echo(f"{indent}no {what} declared in mlvc.yaml (by its stages, or its "
                     f"top-level {what}:)")
            last = None
            for v in sv.values:
                if v.file != last:
                    echo(f"{indent}{shown(v.file)}:")
                    last = v.file
                echo(f"{indent}  {v.key}: {_value(v.value, precision)}")
            for f in sv.missing:
                echo(f"{indent}{shown(f)}: not there")

    show.help = (f"Show the {what} that the stages of mlvc.yaml declare: of the workspace, "
                 f"or of each REV (`workspace` names the workspace).")

    @group.command("diff")
    @click.argument("a_rev", metavar="[A", required=False)
    @click.argument("b_rev", metavar="[B]]", required=False)
    @click.option("--all", "everything", is_flag=True, help="List unchanged values too.")
    @targets_option
    @recursive_option
    @deps_option
    @precision_option
    @click.option("--md", is_flag=True, help="Print a Markdown table.")
    @no_path_option
    @json_option
    def diff_values_cmd(a_rev, b_rev, everything, targets, precision, md, no_path, as_json,
                        param_deps=False, recursive=False):
        from mlvc.ops.diff import diff_values

        one_format(md=md, json=as_json)
        with open_repo() as repo:
            result = diff_values(repo, kind, a_rev, b_rev, everything=everything,
                                 targets=list(targets), cwd=settings().cwd,
                                 param_deps=param_deps, recursive=recursive)
        warn_all(result.warnings)
        if as_json:
            echo_json(result.to_json())
        elif md:
            click.echo(change_header(not no_path))
            for c in result.changes:
                click.echo(change_row(c, precision, not no_path))
        else:
            echo(f"Comparing {result.a.label} with {result.b.label}:")
            if not result.changes:
                echo(f"No {what} changed.")
            for c in result.changes:
                echo(_change_line(c, precision, not no_path))

    diff_values_cmd.help = (f"Compare the {what} of revision A (default: HEAD) with B (default: "
                            "the workspace): old and new values, and the change of numbers.")
    return group


params_cmd = _values_group("params", "params")
metrics_cmd = _values_group("metrics", "metrics")


@click.command("ls")
@click.argument("path", required=False)
@click.option("--rev", metavar="REV", help="A git revision (default: the workspace's pointer "
                                           "files and mlvc.lock, as recorded).")
@click.option("-R", "--recursive", is_flag=True, help="Every file, not only the first level.")
@click.option("-T", "--tree", is_flag=True,
              help="Every file (as -R), drawn as a tree of the folders below PATH.")
@click.option("-L", "--level", type=click.IntRange(1), metavar="DEPTH",
              help="Every file (as -R) down to DEPTH folders below PATH; a deeper folder is "
                   "one entry, with its files' count and size.")
@click.option("--show-hash", is_flag=True, help="Give each file's oid (a git blob's id, with "
                                                "--git; a folder's manifest's oid).")
@click.option("--size", "with_size", is_flag=True,
              help="As DVC's: sizes are always shown (the first column).")
@click.option("--dvc-only", is_flag=True,
              help="As DVC's: only what mlvc tracks, which is what ls lists without --git.")
@click.option("--repo", "repo_url", metavar="URL",
              help="List another mlvc project (a git URL, or a folder), as `dvc list URL`: "
                   "PATH is from its top, --rev one of its revisions; works outside a "
                   "project too.")
@click.option("--git", "with_git", is_flag=True,
              help="The files git keeps too, as `dvc list` shows a repository (without -R: "
                   "the folder's first level).")
@source_remote_options
@json_option
def ls_cmd(path, rev, recursive, tree, level, show_hash, with_size, dvc_only, repo_url,
           with_git, via, as_json):
    """List the data mlvc tracks at PATH (default: the current folder), from git and the cache.

    PATH may be a tracked file or folder, a folder holding tracked outputs, or a path inside
    a tracked folder (its entries are listed from the folder's manifests). Nothing is
    checked out, hashed or downloaded. With --repo, another project's (before `mlvc get` or
    `mlvc import`): its folders' manifests come from its cache or its default remote.
    """
    from mlvc.ops.ls import ls, ls_repo

    if repo_url is None and (via.name is not None or via.config):
        raise click.UsageError("--remote, --remote-config and --config go with --repo")
    if dvc_only and with_git:
        raise click.UsageError("--dvc-only lists what mlvc tracks alone; --git adds git's "
                               "files: choose one")
    recursive = recursive or tree
    if repo_url is not None:
        result = ls_repo(repo_url, path, rev=rev, recursive=recursive, git=with_git,
                         cwd=settings().cwd, via=via, level=level, progress=progress())
        name = printable  # (paths from that project's top)
    else:
        with open_repo() as repo:
            result = ls(repo, path, rev=rev, recursive=recursive, git=with_git,
                        cwd=settings().cwd, level=level)
        name = shown
    if as_json:
        echo_json(result.to_json())
        return
    if tree:
        ls_tree(result.path, result.entries, name, show_hash)
        return
    width = max((len(e.oid or "") for e in result.entries), default=0)  # (git's ids: 40)
    for e in result.entries:
        size = "" if e.size is None else human_size(e.size)  # (None: not recorded)
        what = count(e.nfiles, "file") if e.nfiles is not None else \
            "pending" if e.pending else " ".join(
                w for w, on in (("git", e.hash == "git"), ("exec", e.exec)) if on)
        where = f"  ({name(e.pointer)})" if e.pointer else ""
        oid = f"{e.oid or '':<{width}}  " if show_hash else ""
        echo(f"{size:>9}  {oid}{what:<12}  {name(e.path)}{'/' if e.type == 'dir' else ''}"
             f"{where}")


def ls_tree(base: str, entries, name, show_hash: bool = False, label: str | None = None
            ) -> None:
    """`ls --tree` (and `ls-url --tree`): ``base`` (or ``label``), then the folders and
    files of ``entries`` below it, each folder with the total size of its files (``?`` when
    one is not known). An entry has a path, a type and a size, and may have an oid, a
    pointer and a number of files."""
    def oid(e) -> str:
        return getattr(e, "oid", None) or ""

    def pointer(e) -> str:
        p = getattr(e, "pointer", None)
        return f"  ({name(p)})" if p else ""

    root: dict = {}
    width = max((len(oid(e)) for e in entries), default=0)
    for e in entries:
        if e.path == base:  # (PATH is a file: it alone)
            root = {}
            break
        rel = e.path[len(base) + 1:] if base else e.path
        node = root
        parts = rel.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = e

    def total(node) -> int | None:
        sizes = [total(v) if isinstance(v, dict) else v.size for v in node.values()]
        return None if None in sizes else sum(sizes)

    def line(size: int | None, digest: str, text: str) -> None:
        shown_size = "?" if size is None else human_size(size)
        echo(f"{shown_size:>9}  " + (f"{digest:<{width}}  " if show_hash else "") + text)

    def walk(node, indent: str) -> None:
        items = sorted(node.items())
        for i, (key, value) in enumerate(items):
            last = i == len(items) - 1
            branch = indent + ("└── " if last else "├── ")
            if isinstance(value, dict):
                line(total(value), "", f"{branch}{printable(key)}/")
                walk(value, indent + ("    " if last else "│   "))
            else:
                files = getattr(value, "nfiles", None)
                what = ("/" + (f"  ({count(files, 'file')})" if files else "")
                        if value.type == "dir" else "")
                line(value.size, oid(value), f"{branch}{printable(key)}{what}{pointer(value)}")
    if not root:  # (a file, or nothing)
        for e in entries:
            line(e.size, oid(e), f"{label or name(e.path)}{pointer(e)}")
        return
    if label is None:
        label = name(base) + "/" if base else "."
    line(total(root), "", label)
    walk(root, "")


@click.command("du")
@click.argument("path", required=False)
@click.option("--rev", metavar="REV", help="A git revision (default: the workspace's pointer "
                                           "files and mlvc.lock, and git's index).")
@click.option("-s", "--summarize", is_flag=True, help="Only the total of PATH.")
@click.option("--repo", "repo_url", metavar="URL",
              help="Measure another mlvc or DVC project (a git URL, or a folder), as `dvc du "
                   "URL`: PATH is from its top, --rev one of its revisions; works outside a "
                   "project too.")
@source_remote_options
@json_option
def du_cmd(path, rev, summarize, repo_url, via, as_json):
    """Show how much PATH (default: the current folder) holds, and each entry of its first
    level: the files git keeps and the data mlvc tracks, as a revision records them (as `dvc
    du`). Sizes come from git and from the pointer files, mlvc.lock and the manifests;
    nothing is checked out, read or downloaded but the manifests of a folder inside an
    output. `?`: a size not recorded (the files inside a DVC project's folder).
    """
    from mlvc.ops.ls import du, du_repo

    if repo_url is None and (via.name is not None or via.config):
        raise click.UsageError("--remote, --remote-config and --config go with --repo")
    if repo_url is not None:
        result = du_repo(repo_url, path, rev=rev, cwd=settings().cwd, via=via,
                         progress=progress())
        name = printable  # (paths from that project's top)
    else:
        with open_repo() as repo:
            result = du(repo, path, rev=rev, cwd=settings().cwd)
        name = shown
    if as_json:
        doc = result.to_json()
        if summarize:
            del doc["entries"]
        echo_json(doc)
        return

    def line(size: int | None, path: str, kind: str) -> str:
        return (f"{'?' if size is None else human_size(size):>9}  "
                f"{name(path) if path else '.'}{'/' if kind == 'dir' and path else ''}")

    if not summarize and result.type == "dir":
        for e in result.entries:
            echo(line(e.size, e.path, e.type))
    echo(line(result.size, result.path, result.type))
