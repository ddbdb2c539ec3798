"""``mlvc migrate-dvc``: a DVC project taken over by mlvc, in place.

What carries over as it is: the remotes of ``.dvc/config`` (and ``config.local``, whose
credentials go to mlvc's local config), ``core.remote``, ``cache.type``; the pipeline of
``dvc.yaml`` (mlvc reads the same format: written as it is when mlvc accepts it, comments
and all, else with what mlvc does not know left out and said); the rules of ``.dvcignore``.
What cannot: hashes. DVC records md5, mlvc xxh128, so the data of each ``.dvc`` file is
tracked again with ``mlvc add`` from the workspace (``dvc pull`` it first); a stage that
``dvc.lock`` shows up to date — its cmd, params, and every dep's and output's md5 checked
against the workspace here — is recorded in ``mlvc.lock`` as it is (the others run at
``mlvc repro``); the remotes' objects are DVC's (``mlvc push`` sends mlvc's beside them). DVC's files are
left as they are: remove them (``dvc destroy``, or ``git rm``) once mlvc has everything.
"""

from __future__ import annotations

import configparser
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from mlvc.config import DB_OPTIONS
from mlvc.errors import FormatError, MlvcError, TargetError
from mlvc.fsutil import atomic_write
from mlvc.ops import record_in_git
from mlvc.paths import RelPath, normalize_rel, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.pointer import DbSource, ImportSource, Source, UrlSource

# DVC's remote options that mean nothing to an fsspec filesystem: left out
_DVC_ONLY = {"jobs", "verify", "version_aware", "worktree", "listobjects", "checksum_jobs"}
# dvc.yaml keys mlvc does not read, left out (and said)
_TOP_KEYS = {"stages", "vars", "plots", "metrics", "params", "artifacts"}
_STAGE_KEYS = {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
               "always_changed", "desc", "vars", "meta", "foreach", "do", "matrix"}
_OUT_KEYS = {"cache", "persist", "push", "desc", "template", "x", "y", "x_label", "y_label",
             "title", "header"}
_SECTION = re.compile(r"""^['"]?remote\s+"([^"]+)"['"]?$""")
_DB_SECTION = re.compile(r"""^['"]?db\s+"([^"]+)"['"]?$""")
_SKIP_DIRS = {".git", ".dvc", ".mlvc", "node_modules", "__pycache__"}


@dataclass(frozen=True, slots=True)
class MigrateResult:
    remotes: tuple[str, ...] = ()  # remotes written to mlvc's config
    default_remote: str | None = None
    pipeline: bool = False  # mlvc.yaml written from dvc.yaml
    pipeline_as_is: bool = False  # (its text unchanged)
    added: tuple[RelPath, ...] = ()  # outputs of .dvc files, tracked with `mlvc add`
    # stages dvc.lock shows up to date (every md5 and param checked here): recorded in
    # mlvc.lock as they are, so they do not run again
    recorded: tuple[str, ...] = ()
    missing: tuple[RelPath, ...] = ()  # outputs of .dvc files not in the workspace
    ignore_rules: int = 0  # rules of .dvcignore added to .mlvcignore
    notes: tuple[str, ...] = ()  # what was left out, and why
    git_files: tuple[RelPath, ...] = ()
    staged: bool = False
    dry: bool = False

    def to_json(self) -> dict:
        return {"dry": self.dry, "remotes": list(self.remotes),
                "default_remote": self.default_remote, "pipeline": self.pipeline,
                "pipeline_as_is": self.pipeline_as_is, "added": list(self.added),
                "recorded": list(self.recorded),
                "missing": list(self.missing), "ignore_rules": self.ignore_rules,
                "notes": list(self.notes), "git_files": list(self.git_files),
                "staged": self.staged}


def migrate_dvc(repo: Repo, *, dry: bool = False, force: bool = False, jobs: int | None = None,
                progress: Progress = NULL_PROGRESS) -> MigrateResult:
    """Take the DVC project in ``repo``'s folder over (see the module). ``force``: replace
    mlvc's remotes of the same names and an existing mlvc.yaml. ``dry``: say what would be
    done, change nothing."""
    dvc = repo.root / ".dvc"
    if not dvc.is_dir():
        raise TargetError("there is no DVC project here (no .dvc/ folder beside .mlvc/)",
                          hint="run it in the folder where `dvc init` ran")
    notes: list[str] = []
    remotes, default, settings = _dvc_config(dvc, notes)
    have = repo.config.remotes()
    taken = [n for n in remotes if n in have and not force]
    notes += [f"remote '{n}' exists in mlvc's config already: kept (-f replaces it)"
              for n in taken]
    remotes = {n: o for n, o in remotes.items() if n not in taken}
    files = _dvc_files(repo)
    pipeline_text, as_is, merged = _pipeline(repo, files, notes, force)
    rules = _ignore_rules(repo)
    outs, missing, sources, pending = _dvc_outputs(repo, files, notes)
    git = None
    if not dry:
        git = _write(repo, remotes, default, settings, pipeline_text, rules, outs, sources,
                     jobs, progress, pending)
    # dvc.lock: the stages it shows up to date, checked against the workspace (md5) and the
    # params, are recorded as they are (not in a dry run: the pipeline is not written)
    recorded: list[str] = []
    locks = {lock: prefix for lock, prefix in [("dvc.lock", ""), *(
        (f"{folder}/dvc.lock", f"{prefix}-") for folder, prefix in merged.items())]
        if to_fs(repo.root, lock).is_file()}
    if locks and (pipeline_text is not None or (repo.root / "mlvc.yaml").is_file()):
        if dry:
            notes.append("dvc.lock: the stages it shows up to date (each md5 checked) are "
                         "recorded in mlvc.lock when this runs for real")
        else:
            recorded = _up_to_date(repo, locks, notes, progress)
            if recorded:
                git = _record_stages(repo, recorded, git, jobs, progress)
    if remotes or outs or pipeline_text is not None:
        notes.append("mlvc keeps its own objects: `mlvc push` sends them to the remotes (beside "
                     "DVC's, which mlvc does not read)")
    return MigrateResult(tuple(remotes), default if default in remotes else None,
                         pipeline_text is not None, as_is, tuple(outs), tuple(recorded),
                         tuple(missing), len(rules), tuple(notes), git.files if git else (),
                         git.staged if git else False, dry)


# -- reading DVC's files ----------------------------------------------------------------------

def _dvc_config(dvc: Path, notes: list[str]
                ) -> tuple[dict[str, dict[str, tuple[str, str]]], str | None, dict[str, object]]:
    """DVC's remotes (name -> option -> (value, level: "project" or "local")), its default
    remote, and the settings mlvc shares with it (``cache.type``, ``core.autostage``)."""
    remotes: dict[str, dict[str, tuple[str, str]]] = {}
    default = None
    settings: dict[str, object] = {}
    for name, level in (("config", "project"), ("config.local", "local")):
        path = dvc / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(path.read_text(encoding="utf-8"), str(path))
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise FormatError(f".dvc/{name}: cannot be read: {exc}") from None
        for section in parser.sections():
            values = {k: v.strip().strip('"') for k, v in parser[section].items()}
            found = _SECTION.match(section.strip())
            db = _DB_SECTION.match(section.strip())
            if db:  # (a connection of `dvc import-db`: mlvc's db.NAME.…)
                for key, value in values.items():
                    if key in DB_OPTIONS:
                        settings[f"db.{db.group(1)}.{key}"] = value
                    else:
                        notes.append(f".dvc/{name}: db '{db.group(1)}': option '{key}' is "
                                     "not one mlvc takes: left out")
            elif found:
                options = remotes.setdefault(found.group(1), {})
                for key, value in values.items():
                    if key in _DVC_ONLY:
                        notes.append(f"remote '{found.group(1)}': option '{key}' is DVC's "
                                     "own: left out")
                        continue
                    options[key] = (value, level)
            else:
                section = section.strip().strip("'\"")
                for key, value in values.items():
                    if (section, key) == ("core", "remote"):
                        default = value
                    elif (section, key) in (("core", "autostage"), ("cache", "type")):
                        settings[f"{section}.{key}"] = value
                    elif (section, key) == ("cache", "dir"):
                        notes.append(f".dvc/{name}: cache.dir {value} (DVC's cache) is not "
                                     "taken over: `mlvc config cache.dir PATH` gives mlvc a "
                                     "shared cache, in a folder of its own")
                    else:
                        notes.append(f".dvc/{name}: {section}.{key} is DVC's own setting: "
                                     "left out")
    return remotes, default, settings


def _pipeline(repo: Repo, files: list[RelPath], notes: list[str], force: bool
              ) -> tuple[str | None, bool, dict[RelPath, str]]:
    """The text of mlvc.yaml made from dvc.yaml, whether it is dvc.yaml's own, and the
    ``dvc.yaml`` files below the top merged in (their folder -> the prefix of their stages'
    names); (None, …) when there is no dvc.yaml or mlvc.yaml exists (without ``force``)."""
    import yaml

    from mlvc.pipeline.loader import parse_pipeline
    from mlvc.pipeline.model import PIPELINE_FILE

    nested = [f for f in files if f.endswith("/dvc.yaml")]
    source = repo.root / "dvc.yaml"
    if not source.is_file() and not nested:
        return None, False, {}
    if (repo.root / PIPELINE_FILE).exists() and not force:
        notes.append(f"{PIPELINE_FILE} exists already: dvc.yaml not taken over (-f replaces "
                     "it)")
        return None, False, {}
    text = source.read_text(encoding="utf-8") if source.is_file() else ""
    doc = _yaml_doc(text, "dvc.yaml") if text else {}
    told = len(notes)
    _trim(doc, "dvc.yaml", notes)
    whole = len(notes) == told  # (mlvc reads every key of it)
    merged: dict[RelPath, str] = {}
    for found in nested:
        folder = found.rsplit("/", 1)[0]
        prefix = _prefix(folder)
        try:
            raw = to_fs(repo.root, found).read_text(encoding="utf-8")
            sub = _yaml_doc(raw, found)
        except (OSError, UnicodeDecodeError, FormatError) as exc:
            notes.append(f"{found}: not read ({exc}): not taken over")
            continue
        if "vars" in sub or "${" in raw:
            notes.append(f"{found}: not merged into {PIPELINE_FILE} (its vars and ${{…}} are "
                         "read from its own folder): add its stages by hand, with their wdir")
            continue
        _trim(sub, found, notes)
        if _merge_below(doc, sub, folder, prefix, found, notes):
            merged[folder] = prefix
            notes.append(f"{found}: its stages merged into {PIPELINE_FILE} as "
                         f"'{prefix}-NAME', with wdir {folder}")
    if not merged and text and whole:  # (dvc.yaml alone, all of it read)
        try:
            parse_pipeline(text, repo.root)
            return text, True, {}  # (as it is, comments and all)
        except MlvcError:
            pass
    if not merged and not text:
        return None, False, {}
    for key in ("metrics", "params"):
        if not doc.get(key):
            doc.pop(key, None)
    out = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    try:
        parse_pipeline(out, repo.root)
    except MlvcError as exc:
        raise FormatError(f"dvc.yaml cannot be taken over: {exc.message}",
                          hint=f"edit it into {PIPELINE_FILE} by hand (same format)") from None
    return out, False, merged


def _merge_below(doc: dict, sub: dict, folder: RelPath, prefix: str, found: RelPath,
                 notes: list[str]) -> bool:
    """``sub`` (``folder/dvc.yaml``, trimmed) merged into ``doc``: its stages as
    ``PREFIX-NAME`` with the folder as wdir, its metrics, params, artifacts and plots with
    paths from the top. False (nothing merged) when a stage's name clashes."""
    from mlvc.pipeline.model import PIPELINE_FILE

    stages = doc.get("stages") or {}
    doc["stages"] = stages
    clash = [n for n in (sub.get("stages") or {}) if f"{prefix}-{n}" in stages]
    if clash:
        notes.append(f"{found}: stage names {clash} clash once prefixed '{prefix}-': not "
                     "merged")
        return False
    for name, stage in (sub.get("stages") or {}).items():
        body = _body(stage)
        if isinstance(body, dict):
            body["wdir"] = posixpath.normpath(posixpath.join(folder, str(body.get("wdir", "."))))
        stages[f"{prefix}-{name}"] = stage
    for key in ("metrics", "params"):
        doc[key] = [*(doc.get(key) or []),
                    *(posixpath.join(folder, str(f)) for f in sub.get(key) or [])]
    for name, body in (sub.get("artifacts") or {}).items():
        arts = doc.setdefault("artifacts", {})
        if name in arts or not isinstance(body, dict):
            notes.append(f"{found}: artifact '{name}' left out (named at the top too, or "
                         "not a mapping)")
            continue
        arts[name] = {**body, "path": posixpath.join(folder, str(body.get("path")))}
    for plot in sub.get("plots") or []:
        if isinstance(plot, str):
            doc.setdefault("plots", []).append(posixpath.join(folder, plot))
        elif isinstance(plot, dict) and len(plot) == 1 and not any(
                isinstance(v, dict) for v in (next(iter(plot.values())) or {}).values()):
            (path, options), = plot.items()
            doc.setdefault("plots", []).append({posixpath.join(folder, path): options})
        else:
            notes.append(f"{found}: a plot of several files' fields left out (its paths are "
                         f"from {folder}/): add it to {PIPELINE_FILE} by hand")
    return True


def _body(stage: object) -> object:
    """A stage's own fields: a foreach stage's are under ``do``."""
    return stage.get("do", stage) if isinstance(stage, dict) and "foreach" in stage \
        else stage


def _yaml_doc(text: str, origin: str) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise FormatError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise FormatError(f"{origin}: not a mapping")
    return doc


def _trim(doc: dict, origin: str, notes: list[str]) -> None:
    """What mlvc does not read, left out of a dvc.yaml's ``doc`` (each said)."""
    for key in sorted(set(doc) - _TOP_KEYS):
        notes.append(f"{origin}: '{key}' is not read by mlvc: left out")
        del doc[key]
    for name, stage in (doc.get("stages") or {}).items():
        if isinstance(body := _body(stage), dict):
            _trim_stage(name, body, notes)


def _prefix(folder: RelPath) -> str:
    """The prefix of the stages of ``folder/dvc.yaml`` in mlvc.yaml (a stage name's
    characters: ``sub/dir`` -> ``sub-dir``)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", folder.replace("/", "-"))
    return name if re.match(r"[A-Za-z_]", name) else f"_{name}"


def _trim_stage(name: str, stage: dict, notes: list[str]) -> None:
    for key in sorted(set(stage) - _STAGE_KEYS):
        notes.append(f"dvc.yaml: stage '{name}': '{key}' is not read by mlvc: left out")
        del stage[key]
    for kind in ("outs", "metrics", "plots"):
        entries = stage.get(kind) or []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            (path, options), = entry.items()
            if isinstance(options, dict):
                for key in sorted(set(options) - _OUT_KEYS):
                    notes.append(f"dvc.yaml: stage '{name}': {kind} {path}: '{key}' is not "
                                 "read by mlvc: left out")
                    del options[key]
                if not options:
                    entries[i] = path  # (nothing left to say of it)


def _ignore_rules(repo: Repo) -> list[str]:
    """The rules of the top .dvcignore that .mlvcignore lacks."""
    source = repo.root / ".dvcignore"
    if not source.is_file():
        return []
    target = repo.root / ".mlvcignore"
    have = set(target.read_text(encoding="utf-8").splitlines()) if target.is_file() else set()
    return [line for line in source.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#") and line not in have]


def _dvc_outputs(repo: Repo, files: list[RelPath], notes: list[str]
                 ) -> tuple[list[RelPath], list[RelPath],
                            dict[RelPath, Source],
                            dict[RelPath, Source]]:
    """The outputs of the .dvc files: (in the workspace, to add; not there; the sources of
    those `dvc import` made, as mlvc records an import's — mlvc reads DVC projects — and
    those `dvc import-url` made, as mlvc records an import-url's; the sources of imports
    not in the workspace, to record pending)."""
    import yaml

    from mlvc.workspace.pointer import POINTER_SUFFIX

    present: list[RelPath] = []
    missing: list[RelPath] = []
    sources: dict[RelPath, Source] = {}
    pending: dict[RelPath, Source] = {}
    for rel in (f for f in files if f.endswith(".dvc")):
        try:
            doc = yaml.safe_load(to_fs(repo.root, rel).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            notes.append(f"{rel}: cannot be read ({exc}): left out")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list):
            notes.append(f"{rel}: not a DVC file with outs: left out")
            continue
        deps = doc.get("deps") or []
        source: Source | None = _import_source(deps) or \
            _db_source(deps)
        if deps and source is None:
            source = _url_source(repo, rel, deps, notes)
        if deps and source is None:
            notes.append(f"{rel}: an import whose source mlvc does not record: its data is "
                         "tracked as plain data")
        for out in doc["outs"]:
            raw = out.get("path") if isinstance(out, dict) else None
            try:
                path = normalize_rel(posixpath.join(posixpath.dirname(rel), str(raw)),
                                     origin=rel)
            except MlvcError as exc:
                notes.append(f"{exc.message}: left out")
                continue
            if os.path.lexists(to_fs(repo.root, path + POINTER_SUFFIX)):
                notes.append(f"{path}: mlvc tracks it already")
            elif os.path.lexists(to_fs(repo.root, path)):
                present.append(path)
                if source is not None and len(doc["outs"]) == 1:
                    sources[path] = source
            elif source is not None and len(doc["outs"]) == 1:
                # (`dvc import … --no-download`, or not pulled: a pending import, whose
                # data `mlvc pull` reads from the source)
                pending[path] = source
            else:
                missing.append(path)
    if missing:
        notes.append(f"{len(missing)} output(s) of .dvc files are not in the workspace: "
                     "`dvc pull` them, then run `mlvc migrate-dvc` again")
    if pending:
        notes.append(f"{len(pending)} import(s) of .dvc files not in the workspace: recorded "
                     "without their data (" + ", ".join(sorted(pending)) + "); `mlvc pull` "
                     "reads them from their sources")
    return present, missing, sources, pending


def _url_source(repo: Repo, rel: RelPath, deps: list, notes: list[str]) -> UrlSource | None:
    """The source of a `dvc import-url` (its one dep a URL, or a path outside the project),
    as mlvc records an import-url's. The URL is asked now: when what DVC recorded of it (an
    ETag or checksum; a path's md5) shows it still holds what was imported, its fingerprint
    now is recorded; else one no URL gives, so that `status` tells an update and `mlvc
    update` reads it again (and records the data only when it changed)."""
    from mlvc.ops.import_url import open_url
    from mlvc.ops.imports import recorded_location
    from mlvc.remote import scheme

    if len(deps) != 1 or not isinstance(deps[0], dict) or not deps[0].get("path"):
        return None
    dep, raw = deps[0], str(deps[0]["path"])
    local = scheme(raw) is None
    versions = _dvc_versions(dep) if not local else ()
    if versions:  # (`dvc import-url --version-aware`: those versions, read again by pull)
        from mlvc.ops.import_url import versions_fingerprint

        config = tuple(sorted({**dict(_fs_config(rel, dep.get("fs_config"), notes)),
                               "version_aware": "true"}.items()))
        return UrlSource(raw, versions_fingerprint(versions), config, versions)
    where = os.path.normpath(os.path.join(repo.root, posixpath.dirname(rel), raw)) \
        if local else raw
    marker = next(((k, str(dep[k]).strip('"')) for k in ("etag", "checksum", "md5")
                   if dep.get(k)), None)
    if marker is None:
        return None
    url = recorded_location(repo, where, repo.root) if local else raw
    config = _fs_config(rel, dep.get("fs_config"), notes) if not local else ()
    try:
        now = open_url(url, repo.root, repo, fs_config=config)
    except (MlvcError, OSError) as exc:
        notes.append(f"{rel}: {raw} could not be asked ({exc}): recorded as its source all "
                     "the same (`mlvc update` reads it when it can)")
        return UrlSource(url, f"dvc-{marker[0]}:{marker[1]}", config)
    kept = (now.fingerprint == f"{marker[0]}:{marker[1]}" if marker[0] != "md5" else
            local and _Md5(repo.root)._hash(Path(where)) == marker[1])
    if not kept:
        notes.append(f"{rel}: {raw} may hold other data than DVC imported: `mlvc update` "
                     "reads it again")
    return UrlSource(url, now.fingerprint if kept else f"dvc-{marker[0]}:{marker[1]}", config)


def _dvc_versions(dep: dict) -> tuple[tuple[str, str], ...]:
    """The version ids a version-aware `dvc import-url` recorded: a file's ``version_id``,
    or each of a folder's ``files`` (``relpath``, ``version_id``); () when any is missing."""
    if dep.get("version_id"):
        return (("", str(dep["version_id"])),)
    files = dep.get("files")
    if not isinstance(files, list) or not files:
        return ()
    found = []
    for f in files:
        if not isinstance(f, dict) or not f.get("relpath") or not f.get("version_id"):
            return ()
        try:
            rel = normalize_rel(str(f["relpath"]))
        except MlvcError:
            return ()
        found.append((rel, str(f["version_id"])))
    return tuple(sorted(found))


def _fs_config(rel: RelPath, raw: object, notes: list[str]) -> tuple[tuple[str, str], ...]:
    """The options of a `dvc import-url --fs-config` that mlvc's pointer file can record:
    plain values, no secret (git keeps the file); the others are named in a note."""
    from mlvc.config import NAME, as_text, is_secret

    if not isinstance(raw, dict):
        return ()
    kept = tuple(sorted((k, as_text(v)) for k, v in raw.items()
                        if isinstance(k, str) and NAME.fullmatch(k) and not is_secret(k)
                        and isinstance(v, (str, int, float, bool))))
    left = [str(k) for k in raw if k not in dict(kept)]
    if left:
        notes.append(f"{rel}: fs_config {', '.join(left)} not recorded (a secret, or not a "
                     "plain value): give it to a remote on that bucket or host (`mlvc remote "
                     "modify --local NAME KEY VALUE`), whose options a URL under it gets")
    return kept


def _db_source(deps: list) -> DbSource | None:
    """The source of a `dvc import-db` (its one dep a ``db`` mapping), as mlvc records it."""
    if len(deps) != 1 or not isinstance(deps[0], dict) or not isinstance(
            deps[0].get("db"), dict):
        return None
    db = deps[0]["db"]
    query, table = db.get("query"), db.get("table")
    if not isinstance(db.get("connection"), str) or (query is None) == (table is None):
        return None
    return DbSource(db["connection"], None if query is None else str(query),
                    None if table is None else str(table), str(db.get("file_format", "csv")))


def _import_source(deps: list) -> ImportSource | None:
    """The source of a `dvc import` (its one dep names a repository), as mlvc records it."""
    if len(deps) != 1 or not isinstance(deps[0], dict):
        return None
    dep, repo = deps[0], deps[0].get("repo")
    if not isinstance(repo, dict) or not repo.get("url") or not repo.get("rev_lock"):
        return None
    rev = repo.get("rev")
    return ImportSource(str(repo["url"]), str(dep.get("path", "")),
                        None if rev is None else str(rev), str(repo["rev_lock"]))


def _dvc_files(repo: Repo) -> list[RelPath]:
    """Project paths of DVC's files (``dvc.yaml``, ``*.dvc``), listed once: those git tracks
    or could (not the ones it ignores: the data DVC keeps is there), sorted; without git,
    every such file outside .git, .dvc, .mlvc and nested projects."""
    if repo.scm is not None:
        candidates = [*repo.scm.tracked_like("*.dvc"), *repo.scm.tracked_like("*dvc.yaml"),
                      *repo.scm.untracked()]
    else:
        candidates = []
        for top, dirs, files in os.walk(repo.root):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS
                       and not os.path.isdir(os.path.join(top, d, ".mlvc"))]
            rel = os.path.relpath(top, repo.root)
            candidates += [f if rel == "." else f"{rel}/{f}".replace(os.sep, "/")
                           for f in files]

    def wanted(path: str) -> bool:
        base = path.rsplit("/", 1)[-1]
        return not path.startswith((".dvc/", ".mlvc/", ".git/")) and (
            base == "dvc.yaml" or (base.endswith(".dvc") and base != ".dvc"))

    return sorted({p for p in candidates if wanted(p)})


# -- dvc.lock --------------------------------------------------------------------------------

def _up_to_date(repo: Repo, locks: dict[RelPath, str], notes: list[str],
                progress: Progress) -> list[str]:
    """The stages of the pipeline, not in mlvc.lock yet, that a dvc.lock of ``locks`` (each
    with the prefix its stages' names took in mlvc.yaml) shows up to date: the same cmd,
    every dep's and output's md5 that of the workspace (DVC's: a file's bytes; a folder's,
    the md5 of its files' list as DVC writes it), the same params. Those that are not are
    named in ``notes`` (`mlvc repro` runs them)."""
    import yaml

    from mlvc.pipeline.loader import load_pipeline
    from mlvc.pipeline.lockfile import load_lock
    from mlvc.pipeline.params import flatten, read_params, select

    stages: dict[str, object] = {}
    for lock, prefix in locks.items():
        try:
            doc = yaml.safe_load(to_fs(repo.root, lock).read_text(encoding="utf-8")) or {}
            stages.update({f"{prefix}{n}": e for n, e in (doc.get("stages") or {}).items()})
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError) as exc:
            notes.append(f"{lock} cannot be read ({exc}): its stages run again")
    pipeline = load_pipeline(repo.root)
    have = load_lock(repo.root)
    sums = _Md5(repo.root)
    fresh, stale = [], []
    with progress.phase("Checking dvc.lock", total=len(stages), unit="stage") as advance:
        for name, entry in stages.items():
            advance(1)
            if name not in pipeline.stages or name in have or not isinstance(entry, dict):
                continue
            stage = pipeline[name]
            if not stage.outs:  # (recorded by naming its outputs: it has none)
                stale.append(name)
                continue
            try:
                cmd = entry.get("cmd")
                same = (tuple(cmd) if isinstance(cmd, list) else (cmd,)) == stage.cmd
                records = {normalize_rel(posixpath.join(stage.wdir, str(d["path"]))): d
                           for d in [*(entry.get("deps") or []), *(entry.get("outs") or [])]}
                wanted = {d.path for d in stage.deps} | {o.path for o in stage.outs}
                same = same and set(records) == wanted and all(
                    r.get("hash", "md5") == "md5" and sums.matches(path, r.get("md5"),
                                                                   dvc2="hash" not in r)
                    for path, r in records.items())
                locked = entry.get("params") or {}
                same = same and {p.file for p in stage.params} == {
                    normalize_rel(posixpath.join(stage.wdir, f)) for f in locked} and all(
                    flatten(locked[_locked_name(locked, ref.file, stage.wdir)] or {})
                    == select(read_params(repo.root, ref.file), ref.file, ref.keys, name)
                    for ref in stage.params)
            except (MlvcError, KeyError, TypeError, AttributeError, OSError):
                same = False
            (fresh if same else stale).append(name)
    if stale:
        notes.append(f"dvc.lock shows {len(stale)} stage(s) out of date or not as mlvc.yaml "
                     f"has them ({', '.join(stale[:5])}{' …' if len(stale) > 5 else ''}): "
                     "`mlvc repro` runs them")
    return fresh


def _locked_name(locked: dict, file: RelPath, wdir: RelPath) -> str:
    """The key of dvc.lock's params that names ``file`` (relative to the stage's wdir)."""
    return next(f for f in locked if normalize_rel(posixpath.join(wdir, f)) == file)


class _Md5:
    """DVC's hash of a workspace path: a file's md5; a folder's, the md5 of the JSON list of
    its files' ``{"md5", "relpath"}`` (sorted by path, keys sorted) with ``.dir`` after it.
    None when the path is not there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.known: dict[RelPath, str | None] = {}

    def of(self, path: RelPath) -> str | None:
        if path not in self.known:
            self.known[path] = self._hash(to_fs(self.root, path))
        return self.known[path]

    def matches(self, path: RelPath, md5: object, dvc2: bool = False) -> bool:
        """Whether ``path`` is what DVC recorded as ``md5`` (of DVC 2's lock, ``dvc2``, whose
        records name no hash: a text file hashed with LF line ends, see
        :func:`~mlvc.ops.dvc_source.dvc_md5_matches`, and a folder's listing of those)."""
        from mlvc.ops.dvc_source import dvc_md5_matches

        if not isinstance(md5, str):
            return False
        if self.of(path) == md5:
            return True
        fs = to_fs(self.root, path)
        if md5.endswith(".dir"):  # (DVC 2's: its text files' md5-dos2unix in the listing)
            return dvc2 and fs.is_dir() and self._hash(fs, dos2unix=True) == md5
        return dvc2 and fs.is_file() and dvc_md5_matches(fs, md5)

    def _hash(self, fs: Path, dos2unix: bool = False) -> str | None:
        import hashlib
        import json

        from mlvc.ops.dvc_source import dos2unix_md5, file_md5

        def md5_of(path: str) -> str:
            return (dos2unix and dos2unix_md5(path)) or file_md5(path)

        if fs.is_file():
            return file_md5(fs)
        if not fs.is_dir():
            return None
        entries = []
        for top, dirs, files in os.walk(fs):
            dirs.sort()
            for f in files:
                full = os.path.join(top, f)
                entries.append({"md5": md5_of(full),
                                "relpath": os.path.relpath(full, fs).replace(os.sep, "/")})
        entries.sort(key=lambda e: e["relpath"])
        listing = json.dumps(entries, sort_keys=True).encode()
        return hashlib.md5(listing, usedforsecurity=False).hexdigest() + ".dir"


def _record_stages(repo: Repo, names: list[str], git, jobs, progress):
    """Record ``names`` in mlvc.lock as they are (as `mlvc commit` does for a stage that has
    not run: its outputs named)."""
    from mlvc.ops import GitChange
    from mlvc.ops.commit import commit
    from mlvc.pipeline.loader import load_pipeline

    pipeline = load_pipeline(repo.root)
    outs = [str(to_fs(repo.root, o.path)) for n in names for o in pipeline[n].outs]
    done = commit(repo, outs, cwd=repo.root, force=True, jobs=jobs, progress=progress)
    files = tuple(dict.fromkeys([*(git.files if git else ()), *done.git_files]))
    return GitChange(files, (git.staged if git else False) or done.staged)


# -- writing mlvc's ---------------------------------------------------------------------------

def _write(repo: Repo, remotes, default, settings, pipeline_text, rules, outs, sources,
           jobs, progress, pending):
    from mlvc import config as cfg
    from mlvc.pipeline.model import PIPELINE_FILE

    files = repo.config_files
    written: list[RelPath] = []
    with repo.lock():
        for name, options in remotes.items():
            for level in ("project", "local"):
                cfg.unset_value(files.path(level), level, f"remotes.{name}")
            for key, (value, level) in options.items():
                level = "local" if cfg.is_secret(key) else level
                cfg.set_value(files.path(level), level, f"remotes.{name}.{key}", value)
        if default in remotes:
            cfg.set_value(files.path("project"), "project", "core.remote", default)
        for key, value in settings.items():  # (a database's password: the local file)
            level = "local" if cfg.is_secret(key) else "project"
            cfg.set_value(files.path(level), level, key, value)
        if remotes or settings or default in remotes:
            written.append(".mlvc/config.yaml")
        if pipeline_text is not None:
            atomic_write(to_fs(repo.root, PIPELINE_FILE), pipeline_text)
            written.append(PIPELINE_FILE)
        if rules:
            target = repo.root / ".mlvcignore"
            old = target.read_text(encoding="utf-8") if target.is_file() else ""
            atomic_write(target, old + ("" if not old or old.endswith("\n") else "\n")
                         + "# from .dvcignore (mlvc migrate-dvc)\n" + "\n".join(rules) + "\n")
            written.append(".mlvcignore")
    if outs:
        from mlvc.ops.add import add

        added = add(repo, list(outs), cwd=repo.root, jobs=jobs, progress=progress)
        written += list(added.git_files)
        if sources:  # (`dvc import`s and `import-url`s: their pointers record the source)
            from mlvc.workspace.pointer import (
                Pointer,
                load_pointer,
                pointer_path_for,
                write_pointer,
            )

            with repo.lock():
                for path, source in sources.items():
                    pointer = load_pointer(repo.root, pointer_path_for(path))
                    write_pointer(repo.root, Pointer(pointer.path, pointer.outs, source))
    if pending:
        from mlvc.ops.imports import record_pending
        from mlvc.workspace.pointer import Pointer, pointer_path_for

        for path, source in pending.items():
            written += list(record_pending(repo, Pointer(pointer_path_for(path), (), source,
                                                         path), changed=True,
                                           force=False).git_files)
    return record_in_git(repo, written)
