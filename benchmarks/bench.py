"""mlvc against DVC 3.x on the same generated data, in one run.

    python benchmarks/bench.py                     # both datasets, copy and hardlink, 3 rounds
    python benchmarks/bench.py --datasets a --links copy --rounds 1 --files 5000   # quick

Dataset (a) is 50,000 files of 1-7 KB in nested folders; (b) is one 2 GiB file. For each
dataset and link type, every round runs, for each tool in turn, on a fresh git project:
`add`, a no-op `status` (three times in a row), (a only) `status` after editing one file
(three times), deleting the data then `checkout`, and (a only) changing 1% of the files
then `add` again. Each timed step starts once the disk has
written out the previous one. The `cp -r` that puts the data into each project is timed as
the floor for `add` and `checkout` (the disk here is noisy, worst right after mass deletes,
so the floor is taken in the same settled state as the steps it is compared with).
DVC is installed into its own virtualenv under the work folder; mlvc never imports it.
The table shows medians and the mlvc/DVC ratio; raw numbers go to WORK/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DVC_SPEC = "dvc>=3,<4"
STATUS_RUNS = 3  # no-op status runs per round and tool; the table takes the median of all


_LAUNCHER = None  # the connection to the launcher process, once started


def start_launcher() -> None:
    """Fork the process that starts every timed command, while this one is still small.

    Linux counts the memory of the process that spawns a command into the command's peak
    RSS (the child begins as a copy of it, and exec keeps the larger peak). This benchmark
    grows as it works, so the commands it spawned itself all showed its size: 62 MB for
    both tools on dataset (b), where mlvc alone peaks at 21 MB. The launcher stays small.
    """
    global _LAUNCHER
    from multiprocessing.connection import Pipe

    ours, theirs = Pipe()
    if os.fork() == 0:  # the launcher: run each command it is sent, until the pipe closes
        ours.close()
        try:
            while True:
                try:
                    request = theirs.recv()
                except EOFError:
                    break
                try:
                    theirs.send(("ok", _run_here(*request)))
                except SystemExit as exc:
                    theirs.send(("failed", str(exc)))
        finally:
            os._exit(0)
    theirs.close()
    _LAUNCHER = ours


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int, str]:
    """Run a command; return (seconds, its own peak RSS in MB, stdout). Fails loudly."""
    if _LAUNCHER is None:
        return _run_here(cmd, cwd, env)
    _LAUNCHER.send((cmd, cwd, env))
    outcome, value = _LAUNCHER.recv()
    if outcome == "failed":
        raise SystemExit(value)
    return value


def _run_here(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int, str]:
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed in {cwd} ({proc.returncode}):\n{err.read()}")
        return elapsed, usage.ru_maxrss // 1024, out.read()


def ensure_dvc(work: Path) -> Path:
    venv = work / "dvc-venv"
    dvc = venv / "bin" / "dvc"
    if not dvc.exists():
        print(f"installing {DVC_SPEC} into {venv} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", DVC_SPEC], check=True)
    return dvc


def gen_small(root: Path, nfiles: int) -> None:
    marker = root / ".complete"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rnd = random.Random(42)
    per_leaf = 100
    for n in range(nfiles):
        leaf = n // per_leaf
        folder = root / f"d{leaf // 10:03d}" / f"s{leaf % 10}"
        if n % per_leaf == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n % per_leaf:03d}.bin").write_bytes(
            rnd.randbytes(rnd.randint(1024, 7 * 1024)))
    marker.touch()


def gen_big(root: Path, size: int) -> None:
    marker = root / ".complete"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rnd = random.Random(7)
    block = rnd.randbytes(1 << 24)
    with open(root / "big.bin", "wb") as f:
        written = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            # Vary each block so that no two are equal.
            f.write(written.to_bytes(8, "little") + chunk[8:])
            written += len(chunk)
    marker.touch()


def copy_tree(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    marker = dst / ".complete"
    if marker.exists():
        marker.unlink()


def change_one_percent(data: Path) -> int:
    files = sorted(p for p in data.rglob("*") if p.is_file())
    rnd = random.Random(99)
    changed = files[::100]
    for p in changed:
        os.chmod(p, 0o644) if not os.access(p, os.W_OK) else None
        if p.stat().st_nlink > 1 or p.is_symlink():
            p.unlink()
        p.write_bytes(rnd.randbytes(rnd.randint(1024, 7 * 1024)))
    return len(changed)


def edit_one(data: Path) -> None:
    """Give one file, deep in the folder, new bytes (a new file, as a hard link's object
    must stay as it was)."""
    files = sorted(p for p in data.rglob("*") if p.is_file())
    p = files[len(files) // 2]
    p.unlink()
    p.write_bytes(b"edited")


def settle() -> None:
    """Let the disk finish the previous step's writes and deletes before timing the next."""
    os.sync()
    time.sleep(1)


class Tool:
    def __init__(self, name: str, exe: list[str], env: dict) -> None:
        self.name, self.exe, self.env = name, exe, env

    def __call__(self, cwd: Path, *args: str) -> tuple[float, int, str]:
        return run([*self.exe, *args], cwd, self.env)


def one_round(tool: Tool, dataset: str, data: Path, link: str, proj: Path,
              results: dict) -> None:
    shutil.rmtree(proj, ignore_errors=True)
    proj.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    if tool.name == "dvc":
        tool(proj, "init", "-q")
        tool(proj, "config", "core.analytics", "false")
        tool(proj, "config", "cache.type", link)
    else:
        tool(proj, "-q", "init")
        tool(proj, "config", "cache.type", link)
    settle()
    # The floor: `cp -r` of the same folder, timed in the same settled state as the `add`
    # that follows (a copy timed on its own, after a mass delete, measured the disk's mood).
    start = time.perf_counter()
    copy_tree(data, proj / "data")
    results.setdefault((dataset, link, "cp", "cp -r"), []).append(time.perf_counter() - start)
    settle()
    if link == "hardlink":
        # The floor of a hard-linked add or checkout: one link per file (`cp -al`).
        start = time.perf_counter()
        subprocess.run(["cp", "-al", str(proj / "data"), str(proj / "linked")], check=True)
        results.setdefault((dataset, link, "cp", "cp -al"), []).append(
            time.perf_counter() - start)
        shutil.rmtree(proj / "linked")
        settle()

    def record(step: str, seconds: float, rss: int) -> None:
        results.setdefault((dataset, link, tool.name, step), []).append(seconds)
        results.setdefault((dataset, link, tool.name, "rss_mb"), []).append(rss)

    record("add", *tool(proj, "add", "data")[:2])
    settle()
    for _ in range(STATUS_RUNS):  # the fastest step: one sample is mostly the machine's noise
        record("status", *tool(proj, "status")[:2])
    if dataset == "a":
        edit_one(proj / "data")
        settle()
        for _ in range(STATUS_RUNS):
            record("status, 1 edited", *tool(proj, "status")[:2])
    shutil.rmtree(proj / "data")
    settle()
    record("checkout", *tool(proj, "checkout")[:2])
    if dataset == "a":
        change_one_percent(proj / "data")
        settle()
        args = ["add", "data"] + (["--json"] if tool.name == "mlvc" else [])
        seconds, rss, out = tool(proj, *args)
        record("re-add 1%", seconds, rss)
        if tool.name == "mlvc":
            hashed = json.loads(out)["saved"][0]["hashed"]
            results.setdefault((dataset, link, "mlvc", "re-add hashed files"), []).append(hashed)
    shutil.rmtree(proj, ignore_errors=True)
    settle()


def table(results: dict, datasets: list[str], links: list[str]) -> str:
    lines = ["| dataset | link | step | mlvc (s) | DVC (s) | mlvc/DVC | mlvc/cp -r |",
             "|---|---|---|---|---|---|---|"]
    for ds in datasets:
        for link in links:
            cp = results.get((ds, link, "cp", "cp -r"))
            cp_med = statistics.median(cp) if cp else None
            for step in ("add", "status", "status, 1 edited", "checkout", "re-add 1%"):
                m = results.get((ds, link, "mlvc", step))
                d = results.get((ds, link, "dvc", step))
                if not m and not d:
                    continue
                mm = statistics.median(m) if m else None
                dm = statistics.median(d) if d else None
                ratio = f"{mm / dm:.2f}" if mm and dm else "-"
                vs_cp = f"{mm / cp_med:.2f}" if mm and cp_med and step in ("add", "checkout") \
                    else ""
                lines.append(f"| {ds} | {link} | {step} | {_f(mm)} | {_f(dm)} | {ratio} | {vs_cp} |")
            if cp_med:
                lines.append(f"| {ds} | {link} | cp -r (floor) | {cp_med:.2f} | | | |")
            cpal = results.get((ds, link, "cp", "cp -al"))
            if cpal:
                lines.append(f"| {ds} | {link} | cp -al (link floor) | "
                             f"{statistics.median(cpal):.2f} | | | |")
            for tool in ("mlvc", "dvc"):
                rss = results.get((ds, link, tool, "rss_mb"))
                if rss:
                    lines.append(f"| {ds} | {link} | peak RSS {tool} (MB) | {max(rss)} | | | |")
            hashed = results.get((ds, link, "mlvc", "re-add hashed files"))
            if hashed:
                lines.append(f"| {ds} | {link} | mlvc re-add: files hashed | {max(hashed)} | | | |")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--datasets", default="a,b")
    ap.add_argument("--links", default="copy,hardlink")
    ap.add_argument("--tools", default="mlvc,dvc")
    ap.add_argument("--files", type=int, default=50_000, help="files in dataset (a)")
    ap.add_argument("--big-mib", type=int, default=2048, help="size of dataset (b)")
    args = ap.parse_args()
    start_launcher()

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    datasets = args.datasets.split(",")
    links = args.links.split(",")
    tool_names = args.tools.split(",")
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="bench",
               GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="bench@example.com")
    mlvc_exe = shutil.which("mlvc", path=str(Path(sys.executable).parent)) or "mlvc"
    tools = []
    if "mlvc" in tool_names:
        tools.append(Tool("mlvc", [mlvc_exe], env))
    if "dvc" in tool_names:
        tools.append(Tool("dvc", [str(ensure_dvc(work))], env))

    data = {}
    if "a" in datasets:
        data["a"] = work / f"data-a-{args.files}"
        print(f"generating dataset (a): {args.files} files …", flush=True)
        gen_small(data["a"], args.files)
    if "b" in datasets:
        data["b"] = work / f"data-b-{args.big_mib}m"
        print(f"generating dataset (b): one {args.big_mib} MiB file …", flush=True)
        gen_big(data["b"], args.big_mib << 20)

    results: dict = {}
    for ds in datasets:
        for link in links:
            for r in range(args.rounds):
                order = tools if r % 2 == 0 else list(reversed(tools))
                for tool in order:
                    print(f"[{ds}/{link}] round {r + 1}/{args.rounds}: {tool.name}", flush=True)
                    one_round(tool, ds, data[ds], link, work / f"proj-{tool.name}", results)
    out = table(results, datasets, links)
    print(out)
    (work / "results.json").write_text(json.dumps(
        {" / ".join(k): v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
