"""`diff`, mlvc against DVC 3.x, on dataset (a) (50,000 small files), in one run.

    python benchmarks/bench_diff.py                  # 3 runs of each step
    python benchmarks/bench_diff.py --files 5000     # a quick look

For each tool, on a fresh git project whose data was added (copy link type) and committed:
`diff` with nothing changed (HEAD against the workspace), `diff` after 1% of the files got new
bytes (the workspace is hashed: the first run reads the changed files, the next ones find
them in the state DB), then, with that change committed, `diff HEAD~1 HEAD` (both sides from
git and the cache). Medians and the mlvc/DVC ratio are printed; raw numbers go to
WORK/results-diff.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench import (  # noqa: E402
    Tool,
    change_one_percent,
    copy_tree,
    ensure_dvc,
    gen_small,
    settle,
    start_launcher,
)

STEPS = ("no change", "1% changed", "HEAD~1 HEAD")


def one_run(tool: Tool, data: Path, proj: Path, runs: int, results: dict) -> None:
    shutil.rmtree(proj, ignore_errors=True)
    proj.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    tool(proj, "init", "-q")
    if tool.name == "dvc":
        tool(proj, "config", "core.analytics", "false")
    copy_tree(data, proj / "data")
    tool(proj, "add", "data")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "add", "-A"], cwd=proj, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=proj, check=True)
    settle()

    def timed(step: str, *args: str) -> None:
        for _ in range(runs):
            results.setdefault((tool.name, step), []).append(tool(proj, "diff", *args)[0])

    timed("no change")
    change_one_percent(proj / "data")
    settle()
    timed("1% changed")
    tool(proj, "commit", *(["-f"] if tool.name == "dvc" else []))
    subprocess.run([*git, "commit", "-qam", "two"], cwd=proj, check=True)
    settle()
    timed("HEAD~1 HEAD", "HEAD~1", "HEAD")
    shutil.rmtree(proj, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=50_000, help="files in dataset (a)")
    args = ap.parse_args()
    start_launcher()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    mlvc_exe = shutil.which("mlvc", path=str(Path(sys.executable).parent)) or "mlvc"
    tools = [Tool("mlvc", [mlvc_exe], env), Tool("dvc", [str(ensure_dvc(work))], env)]
    data = work / f"data-a-{args.files}"
    gen_small(data, args.files)
    results: dict = {}
    for tool in tools:
        print(f"diff: {tool.name}", flush=True)
        one_run(tool, data, work / f"proj-diff-{tool.name}", args.runs, results)
    print("| step | mlvc (s) | DVC (s) | mlvc/DVC |\n|---|---|---|---|")
    for step in STEPS:
        m = statistics.median(results[("mlvc", step)])
        d = statistics.median(results[("dvc", step)])
        print(f"| {step} | {m:.2f} | {d:.2f} | {m / d:.2f} |")
    (work / "results-diff.json").write_text(json.dumps(
        {" / ".join(k): v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
