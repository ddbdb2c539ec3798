"""``mlvc artifacts get/list``: named models and datasets (see :mod:`mlvc.ops.artifacts`)."""

from __future__ import annotations

import click

from mlvc.cli.render import (
    count,
    echo,
    echo_json,
    human_size,
    jobs_option,
    json_option,
    open_repo,
    printable,
    progress,
    settings,
    source_remote_options,
)


@click.group("artifacts")
def artifacts_cmd():
    """Named models and datasets (the top-level `artifacts:` of mlvc.yaml, as DVC's model
    registry): `mlvc artifacts get` copies one out of a project, by version or stage.

    Versions and stages are git tags as GTO writes them: NAME@v1.2.0 registers the commit
    it tags; NAME#STAGE#N (the highest N) assigns one to a stage, NAME#STAGE!#N takes it
    away.
    """


@artifacts_cmd.command("get")
@click.argument("repo_url", metavar="REPO")
@click.argument("name")
@click.option("--rev", metavar="VERSION",
              help="A version of the artifact (v1.2.0), or any git revision of REPO "
                   "(default: its latest version; without one, REPO's default branch).")
@click.option("--stage", metavar="STAGE", help="The version assigned to this stage (prod).")
@click.option("-o", "--out", metavar="OUT",
              help="Where to write it (default: the artifact's file or folder name, here).")
@click.option("-f", "--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--show-url", is_flag=True,
              help="Print the URL of the artifact's object on REPO's remote instead of "
                   "copying it (a file; one that travels in a pack has none).")
@source_remote_options
@jobs_option
@json_option
def artifacts_get_cmd(repo_url, name, rev, stage, out, force, show_url, via, jobs, as_json):
    """Copy artifact NAME out of the project REPO (a git URL or a folder), as `dvc
    artifacts get`: its path as that version's mlvc.yaml declares it, its data as `mlvc
    get` copies it (verified). Works outside any project. REPO may be a DVC model registry:
    NAME is then declared by its dvc.yaml, or DIR:NAME by DIR/dvc.yaml (as DVC names it;
    its tags DIR=NAME@v1.0.0, as GTO writes them)."""
    from mlvc.ops.artifacts import artifact_url, artifacts_get

    if show_url:
        if out is not None or force:
            raise click.UsageError("--show-url copies nothing: not with -o or -f")
        url = artifact_url(repo_url, name, rev=rev, stage=stage, cwd=settings().cwd, via=via)
        if as_json:
            echo_json({"url": url})
        else:
            click.echo(url)
        return

    got = artifacts_get(repo_url, name, rev=rev, stage=stage, out=out, cwd=settings().cwd,
                        force=force, via=via, jobs=jobs, progress=progress())
    if as_json:
        echo_json(got.to_json())
        return
    echo(f"Got {printable(name)} {got.version} ({got.artifact.path}, "
         f"{count(got.files, 'file')}, {human_size(got.nbytes)}) -> {printable(got.out)}")


@artifacts_cmd.command("list")
@click.option("--repo", "repo_url", metavar="URL",
              help="Another project's (a git URL, or a folder), at its default branch.")
@json_option
def artifacts_list_cmd(repo_url, as_json):
    """List the artifacts mlvc.yaml declares, with their versions and stages."""
    from mlvc.ops.artifacts import artifacts_list, artifacts_list_repo

    if repo_url is not None:
        found = artifacts_list_repo(repo_url, settings().cwd)
    else:
        with open_repo() as repo:
            found = artifacts_list(repo)
    if as_json:
        echo_json([a.to_json() for a in found])
        return
    if not found:
        echo("No artifacts declared (the top-level `artifacts:` of mlvc.yaml names them).")
    for info in found:
        a, reg = info.artifact, info.registry
        kind = f" [{a.type}]" if a.type else ""
        echo(f"{printable(a.name)}{kind}: {printable(a.path)}")
        if reg.versions:
            echo("  versions: " + ", ".join(v for v, _ in reg.versions))
        for stage, commit in reg.stages:
            echo(f"  {stage}: {reg.version_of(commit)}")
