"""push and pull, mlvc against DVC 3.x, to a local-folder remote and to S3 (moto_server on
loopback), on the same generated data, in one run.

    python benchmarks/bench_remote.py                              # (a) and (b), folder and S3
    python benchmarks/bench_remote.py --datasets a --remotes local --files 5000   # quick

For each dataset, remote kind and tool, on a fresh git project whose data was added with the
copy link type: `push` (timed), a second `push` with nothing new (timed), then the cache and
the data are deleted and `pull` (fetch + checkout, into an empty cache) is timed. The floor
for (b) is a plain copy (or one s3fs upload) of the file. DVC gets `dvc-s3` in its own
virtualenv; mlvc never imports DVC. Raw numbers go to WORK/results-remote.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench import (  # noqa: E402
    Tool,
    copy_tree,
    ensure_dvc,
    gen_big,
    gen_small,
    settle,
    start_launcher,
)

STEPS = ("push", "no-op push", "pull")


def configure(tool: Tool, proj: Path, kind: str, url: str, endpoint: str | None) -> None:
    if tool.name == "dvc":
        tool(proj, "remote", "add", "-d", "store", url)
        if endpoint:
            tool(proj, "remote", "modify", "store", "endpointurl", endpoint)
            tool(proj, "remote", "modify", "--local", "store", "access_key_id", "testing")
            tool(proj, "remote", "modify", "--local", "store", "secret_access_key", "testing")
            tool(proj, "remote", "modify", "store", "region", "us-east-1")
    else:
        tool(proj, "remote", "add", "-d", "store", url)
        if endpoint:
            tool(proj, "remote", "modify", "store", "endpoint_url", endpoint)
            tool(proj, "remote", "modify", "store", "access_key_id", "testing")
            tool(proj, "remote", "modify", "store", "secret_access_key", "testing")
            tool(proj, "remote", "modify", "store", "region", "us-east-1")


def one_run(tool: Tool, dataset: str, data: Path, kind: str, url: str, endpoint: str | None,
            proj: Path, jobs: int | None, results: dict, pull: bool = True) -> None:
    shutil.rmtree(proj, ignore_errors=True)
    proj.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    if tool.name == "dvc":
        tool(proj, "init", "-q")
        tool(proj, "config", "core.analytics", "false")
    else:
        tool(proj, "-q", "init")
    configure(tool, proj, kind, url, endpoint if kind == "s3" else None)
    copy_tree(data, proj / "data")
    tool(proj, "add", "data")
    settle()
    extra = ["-j", str(jobs)] if jobs else []

    def record(step: str, seconds: float, rss: int) -> None:
        results.setdefault((dataset, kind, tool.name, step), []).append(seconds)
        results.setdefault((dataset, kind, tool.name, "rss_mb"), []).append(rss)

    record("push", *tool(proj, "push", *extra)[:2])
    record("no-op push", *tool(proj, "push", *extra)[:2])
    if not pull:
        shutil.rmtree(proj, ignore_errors=True)
        return
    cache = proj / (".dvc" if tool.name == "dvc" else ".mlvc") / "cache"
    shutil.rmtree(cache)
    shutil.rmtree(proj / "data")
    if tool.name == "mlvc":
        shutil.rmtree(proj / ".mlvc" / "tmp", ignore_errors=True)  # no state, no index
    else:
        shutil.rmtree(proj / ".dvc" / "tmp", ignore_errors=True)
    settle()
    record("pull", *tool(proj, "pull", *extra)[:2])
    shutil.rmtree(proj, ignore_errors=True)
    settle()


def floor(dataset: str, data: Path, kind: str, endpoint: str | None, work: Path,
          results: dict) -> None:
    """The plain copy of the data: `cp -r` to a folder, or s3fs `put` of the files (and, as
    the floor of a pull, s3fs `get` of them back)."""
    start = time.perf_counter()
    if kind == "local":
        dst = work / "floor-copy"
        shutil.rmtree(dst, ignore_errors=True)
        copy_tree(data, dst)
        shutil.rmtree(dst, ignore_errors=True)
    else:
        put, get = in_child(_s3_floor, endpoint, str(data), str(work))
        results.setdefault((dataset, kind, "floor", "copy"), []).append(put)
        results.setdefault((dataset, kind, "floor", "get"), []).append(get)
        settle()
        return
    results.setdefault((dataset, kind, "floor", "copy"), []).append(time.perf_counter() - start)
    settle()


def in_child(fn, *args):
    """``fn(*args)`` in a fresh interpreter. s3fs holds big buffers, and a child's peak RSS as
    the kernel reports it includes its parent's at the moment it was started: s3fs work done
    in this process would inflate every later measurement of mlvc and DVC."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _make_bucket(endpoint: str, bucket: str) -> None:
    import s3fs

    s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing").mkdir(bucket)


def _s3_floor(endpoint: str, data: str, work: str) -> tuple[float, float]:
    """Seconds for s3fs to put the data into a new bucket, then to get them back."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing")
    bucket = f"floor-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    start = time.perf_counter()
    fs.put(data, f"{bucket}/data", recursive=True)
    put = time.perf_counter() - start
    settle()
    dst = Path(work) / "floor-get"
    shutil.rmtree(dst, ignore_errors=True)
    start = time.perf_counter()
    fs.get(f"{bucket}/data", str(dst), recursive=True)
    get = time.perf_counter() - start
    shutil.rmtree(dst, ignore_errors=True)
    fs.rm(bucket, recursive=True)  # moto keeps objects in memory
    return put, get


def table(results: dict, datasets: list[str], kinds: list[str]) -> str:
    lines = ["| dataset | remote | step | mlvc (s) | DVC (s) | mlvc/DVC |", "|---|---|---|---|---|---|"]
    for ds in datasets:
        for kind in kinds:
            for step in STEPS:
                m = results.get((ds, kind, "mlvc", step))
                d = results.get((ds, kind, "dvc", step))
                if not m and not d:
                    continue
                mm = statistics.median(m) if m else None
                dm = statistics.median(d) if d else None
                ratio = f"{mm / dm:.2f}" if mm and dm else "-"
                lines.append(f"| {ds} | {kind} | {step} | {_f(mm)} | {_f(dm)} | {ratio} |")
            fl = results.get((ds, kind, "floor", "copy"))
            if fl:
                what = "cp -r" if kind == "local" else "s3fs put"
                lines.append(f"| {ds} | {kind} | floor ({what}) | {_f(statistics.median(fl))} | | |")
            fl = results.get((ds, kind, "floor", "get"))
            if fl:
                lines.append(f"| {ds} | {kind} | floor (s3fs get) | {_f(statistics.median(fl))} | | |")
            for tool in ("mlvc", "dvc"):
                rss = results.get((ds, kind, tool, "rss_mb"))
                if rss:
                    lines.append(f"| {ds} | {kind} | peak RSS {tool} (MB) | {max(rss)} | | |")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--datasets", default="a,b")
    ap.add_argument("--remotes", default="local,s3")
    ap.add_argument("--tools", default="mlvc,dvc")
    ap.add_argument("--files", type=int, default=50_000, help="files in dataset (a)")
    ap.add_argument("--big-mib", type=int, default=2048, help="size of dataset (b)")
    ap.add_argument("--jobs", type=int, default=None, help="-j for both tools (default: theirs)")
    ap.add_argument("--steps", default="floor,push,pull",
                    help="what to time: floor, push (with the no-op push), pull (after push)")
    args = ap.parse_args()
    start_launcher()

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    datasets = args.datasets.split(",")
    kinds = args.remotes.split(",")
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="bench",
               GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="bench@example.com", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    mlvc_exe = shutil.which("mlvc", path=str(Path(sys.executable).parent)) or "mlvc"
    tools = []
    if "mlvc" in args.tools:
        tools.append(Tool("mlvc", [mlvc_exe], env))
    if "dvc" in args.tools:
        dvc = ensure_dvc(work)
        if "s3" in kinds:
            subprocess.run([str(dvc.parent / "pip"), "install", "-q", "dvc-s3"], check=True)
        tools.append(Tool("dvc", [str(dvc)], env))

    data = {}
    if "a" in datasets:
        data["a"] = work / f"data-a-{args.files}"
        gen_small(data["a"], args.files)
    if "b" in datasets:
        data["b"] = work / f"data-b-{args.big_mib}m"
        gen_big(data["b"], args.big_mib << 20)

    results: dict = {}
    endpoint = None
    server = None
    if "s3" in kinds:
        from tests.helpers.servers import moto_server

        server = moto_server()
        endpoint = server.__enter__()
    try:
        for ds in datasets:
            for kind in kinds:
                if "floor" in args.steps:
                    print(f"[{ds}/{kind}] floor", flush=True)
                    floor(ds, data[ds], kind, endpoint, work, results)
                for r in range(args.rounds):
                    order = tools if r % 2 == 0 else list(reversed(tools))
                    for tool in order:
                        print(f"[{ds}/{kind}] round {r + 1}/{args.rounds}: {tool.name}",
                              flush=True)
                        if kind == "local":
                            url = str(work / f"remote-{tool.name}")
                            shutil.rmtree(url, ignore_errors=True)
                        else:
                            bucket = f"bench-{tool.name}-{uuid.uuid4().hex[:8]}"
                            in_child(_make_bucket, endpoint, bucket)
                            url = f"s3://{bucket}/store"
                        one_run(tool, ds, data[ds], kind, url, endpoint,
                                work / f"proj-remote-{tool.name}", args.jobs, results,
                                "pull" in args.steps)
                        if kind == "local":
                            shutil.rmtree(url, ignore_errors=True)
                        save(work, results)  # a cut run keeps what it measured
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    out = table(results, datasets, kinds)
    print(out)
    save(work, results)


def save(work: Path, results: dict) -> None:
    (work / "results-remote.json").write_text(json.dumps(
        {" / ".join(k): v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
