"""``mlvc artifacts``: named models and datasets, as DVC's model registry names them.

The top-level ``artifacts:`` of ``mlvc.yaml`` (as of ``dvc.yaml``) names a file or folder of
the project. Their versions and stages are git tags, as GTO (DVC's model registry) writes
them: ``NAME@v1.2.0`` registers the commit it tags as that version; ``NAME#STAGE#N`` (the
highest N) assigns it to a stage, ``NAME#STAGE!#N`` takes it away. ``artifacts get`` reads
the artifact's path as the chosen commit's ``mlvc.yaml`` declares it, and copies its data out
as ``mlvc get`` does; ``artifacts list`` shows what a project declares, with versions and
stages.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import TargetError
from mlvc.pipeline.model import ArtifactDef
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.workspace.pointer import ITS_DEFAULT, SourceRemote

_VERSION = re.compile(r"v(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class Registry:
    """What a repository's tags say of one artifact: version -> commit, stage -> version's
    commit (the stage's latest assignment, not taken away)."""

    versions: tuple[tuple[str, str], ...] = ()  # (version, commit), oldest version first
    stages: tuple[tuple[str, str], ...] = ()  # (stage, commit)

    @property
    def latest(self) -> tuple[str, str] | None:
        return self.versions[-1] if self.versions else None

    def version_of(self, commit: str) -> str:
        """The newest version registered at ``commit`` (its short sha when none is)."""
        return next((v for v, c in reversed(self.versions) if c == commit), commit[:8])


def full_name(name: str) -> str:
    """An artifact's name as DVC takes one: ``NAME``, ``DIR:NAME`` for one a ``dvc.yaml``
    below the top declares (``DIR/dvc.yaml:NAME`` is the same)."""
    folder, sep, base = name.rpartition(":")
    if sep and (folder == "dvc.yaml" or folder.endswith("/dvc.yaml")):
        folder = posixpath.dirname(folder)
        return f"{folder}:{base}" if folder else base
    return name


def registry(tags: dict[str, str], name: str) -> Registry:
    """The versions and stages of artifact ``name``, from git tags (name -> commit); a
    ``DIR:NAME`` one's are tagged ``DIR=NAME@…`` (as GTO writes them)."""
    name = full_name(name).replace(":", "=")
    versions = []
    # (``NAME@v1.0.0!``: that version deregistered, as ``gto deregister`` tags it)
    gone = {tag.partition("@")[2].split("#")[0][:-1] for tag in tags
            if tag.startswith(name + "@") and tag.split("#")[0].endswith("!")}
    for tag, commit in tags.items():
        base, at, version = tag.partition("@")
        if base == name and at and version not in gone and (
                m := _VERSION.fullmatch(version)):
            versions.append((tuple(int(g or 0) for g in m.groups()), version, commit))
    latest: dict[str, tuple[int, str | None]] = {}  # stage -> (counter, commit or None)
    for tag, commit in tags.items():
        parts = tag.split("#")
        if len(parts) not in (2, 3) or parts[0] != name or not parts[1]:
            continue
        stage, gone = parts[1].rstrip("!"), parts[1].endswith("!")
        count = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else 0
        if count >= latest.get(stage, (-1, None))[0]:
            latest[stage] = (count, None if gone else commit)
    return Registry(tuple((v, c) for _, v, c in sorted(versions)),
                    tuple(sorted((s, c) for s, (_, c) in latest.items() if c is not None)))


def tags_of(url: str, timeout: float = 60.0) -> dict[str, str]:
    """The tags of the git repository at ``url`` (a URL or a folder): name -> commit (an
    annotated tag's commit, not the tag object)."""
    from mlvc.ops.imports import ls_remote

    if url.startswith("-"):
        raise TargetError(f"repository '{url}' starts with '-'")
    tags: dict[str, str] = {}
    for sha, ref in ls_remote(url, tags=True, timeout=timeout):
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = sha  # (peeled: the commit)
        else:
            tags.setdefault(name, sha)
    return tags


def chosen_commit(url: str, name: str, rev: str | None = None, stage: str | None = None
                  ) -> tuple[str | None, str]:
    """(the git revision to read, what it is: "v1.2.0", "stage prod", …) of artifact
    ``name``: ``rev`` (a version of it, else a git revision), the commit of ``stage``, or
    its latest version; its repository's default branch when it has no version."""
    if rev is not None and stage is not None:
        raise TargetError("--rev and --stage: choose one")
    tags = tags_of(url)
    found = registry(tags, name)
    if stage is not None:
        commit = dict(found.stages).get(stage)
        if commit is None:
            known = ", ".join(s for s, _ in found.stages) or "none"
            raise TargetError(f"artifact '{name}' has no version in stage '{stage}'",
                              hint=f"its stages: {known}")
        return commit, f"stage {stage}"
    if rev is not None:  # (a version of it, else any git revision)
        return dict(found.versions).get(rev, rev), rev
    if found.latest is not None:
        return found.latest[1], found.latest[0]
    return None, "the default branch (no version registered)"


@dataclass(frozen=True, slots=True)
class ArtifactGot:
    artifact: ArtifactDef
    version: str  # what was read: a version, a stage, a revision
    rev: str | None  # the commit read
    out: str
    files: int
    nbytes: int

    def to_json(self) -> dict:
        return {**self.artifact.to_json(), "version": self.version, "rev": self.rev,
                "out": self.out, "files": self.files, "bytes": self.nbytes}


def declared(root: Path, name: str, where: str) -> ArtifactDef:
    """Artifact ``name`` as the project at ``root`` declares it (its ``mlvc.yaml``, or a DVC
    project's ``dvc.yaml`` files)."""
    found = {a.name: a for a in _artifacts_of(root)}
    name = full_name(name)
    if name not in found:
        raise TargetError(f"{where} declares no artifact '{name}'",
                          hint="its artifacts: " + (", ".join(sorted(found)) or "none")
                          + " (the top-level `artifacts:` of mlvc.yaml, or of dvc.yaml "
                            "files in a DVC project: DIR:NAME for one below the top)")
    return found[name]


def _artifacts_of(root: Path) -> tuple[ArtifactDef, ...]:
    """What the project at ``root`` declares: its ``mlvc.yaml``'s artifacts; a DVC
    project's (no ``mlvc.yaml``: a DVC model registry read in a clone), its dvc.yaml
    files'."""
    from mlvc.ops.dvc_source import dvc_artifacts, is_dvc_project
    from mlvc.pipeline.loader import load_pipeline
    from mlvc.pipeline.model import PIPELINE_FILE

    if not (root / PIPELINE_FILE).is_file() and is_dvc_project(root):
        return tuple(dvc_artifacts(root))
    return load_pipeline(root).artifacts


def artifacts_get(url: str, name: str, *, rev: str | None = None, stage: str | None = None,
                  out: str | None = None, cwd: Path | None = None, force: bool = False,
                  via: SourceRemote = ITS_DEFAULT, jobs: int | None = None,
                  progress: Progress = NULL_PROGRESS) -> ArtifactGot:
    """Copy artifact ``name`` of the project at ``url`` out (as ``dvc artifacts get``): of
    the commit ``rev`` (a version, or a git revision), ``stage`` or the latest version
    chooses; to ``out`` (default: the artifact's file or folder name, here)."""
    from mlvc.ops.get import cloned, get_into, local_repo

    cwd = cwd or Path.cwd()
    local = local_repo(url, cwd)
    commit, version = chosen_commit(str(local or url), name, rev, stage)
    with cloned(url, commit, cwd, via=via, jobs=jobs) as (repo, source, sha):
        artifact = declared(repo.root, name, f"{url} at {version}")
        got = get_into(repo, source, artifact.path, out, cwd, force, progress, local)
    return ArtifactGot(artifact, version, sha, got.out, got.files, got.nbytes)


def artifact_url(url: str, name: str, *, rev: str | None = None, stage: str | None = None,
                 cwd: Path | None = None, via: SourceRemote = ITS_DEFAULT) -> str:
    """The URL of artifact ``name``'s object on the remote of the project at ``url`` (as
    ``dvc artifacts get --show-url``): the version ``rev``, ``stage`` or the latest one
    chooses, as :func:`mlvc.api.get_url` gives it (a file; not one in a pack)."""
    from mlvc.api import get_url
    from mlvc.ops.get import local_repo

    cwd = cwd or Path.cwd()
    local = local_repo(url, cwd)
    artifact, sha = artifact_at(str(local or url), name, rev, stage, cwd)
    return get_url(artifact.path, repo=str(local or url), rev=sha, remote=via.name,
                   remote_config=dict(via.config), cwd=cwd)


def artifact_at(url: str | None, name: str, rev: str | None = None, stage: str | None = None,
                cwd: Path | None = None) -> tuple[ArtifactDef, str | None]:
    """Artifact ``name`` as the commit ``rev``, ``stage`` or its latest version chooses
    declares it, and that commit; of the project at ``url`` (a git URL or a folder;
    default: the one holding ``cwd``)."""
    from mlvc.ops.get import cloned
    from mlvc.repo import Repo

    cwd = cwd or Path.cwd()
    if url is None:
        with Repo.find(cwd) as project:
            if project.scm is None:
                raise TargetError("artifacts' versions are git tags, and this project has "
                                  "no git")
            url = project.scm.top()
    commit, what = chosen_commit(url, name, rev, stage)
    with cloned(url, commit, cwd) as (clone, _, sha):
        return declared(clone.root, name, f"{url} at {what}"), sha


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    artifact: ArtifactDef
    registry: Registry

    def to_json(self) -> dict:
        return {**self.artifact.to_json(),
                "versions": [{"version": v, "rev": c} for v, c in self.registry.versions],
                "stages": {s: c for s, c in self.registry.stages}}


def artifacts_list(repo) -> list[ArtifactInfo]:
    """The artifacts this project's ``mlvc.yaml`` declares, with the versions and stages its
    repository's tags give them (none without git)."""
    return _listed(repo.root, {} if repo.scm is None else tags_of(repo.scm.top()))


def artifacts_list_repo(url: str, cwd: Path | None = None) -> list[ArtifactInfo]:
    """:func:`artifacts_list` of the project at ``url`` (a git URL or a folder), as its
    default branch declares them."""
    from mlvc.ops.get import cloned, local_repo

    cwd = cwd or Path.cwd()
    with cloned(url, None, cwd) as (repo, _, _):
        return _listed(repo.root, tags_of(str(local_repo(url, cwd) or url)))


def _listed(root: Path, tags: dict[str, str]) -> list[ArtifactInfo]:
    return [ArtifactInfo(a, registry(tags, a.name)) for a in _artifacts_of(root)]
