#!/usr/bin/env bash
# The main job, end to end, on a fresh machine: creates its own virtualenv, installs mlvc,
# versions a small dataset and model next to git in a temporary folder, runs a 3-stage
# pipeline, shares everything through a local-folder remote with a teammate's clone, then
# changes the data and shows `mlvc diff` tracing the metric change back to it.
#
#   ./scripts/demo.sh            # keeps nothing; set MLVC_DEMO_KEEP=1 to keep the folder
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${MLVC_DEMO_VENV:-$HERE/.venv-demo}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
echo "==> installing mlvc from $HERE"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$HERE"
export PATH="$VENV/bin:$PATH"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlvc-demo.XXXXXX")"
if [ -z "${MLVC_DEMO_KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi
cd "$WORK"
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-mlvc demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@example.com}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n# %s\n' "$*"; }

say "A small ML project with git and mlvc, in $WORK/project"
mkdir project && cd project
step git init -q -b main
step mlvc init

say "A dataset (a folder of CSV files) and a model file"
mkdir -p data/train data/test src
python - <<'PY'
import random
rnd = random.Random(0)
for split, n in (("train", 40), ("test", 10)):
    for i in range(n):
        rows = "\n".join(f"{rnd.random():.4f},{rnd.randint(0, 1)}" for _ in range(50))
        open(f"data/{split}/part-{i:03d}.csv", "w").write("x,label\n" + rows + "\n")
open("model.pkl", "wb").write(bytes(rnd.randrange(256) for _ in range(4096)))
PY
echo 'print("training")' > src/train.py

step mlvc add data model.pkl
step cat data.mlvc
step git add data.mlvc model.pkl.mlvc .gitignore src
step git commit -q -m "v1: dataset and model"
step git tag v1
step mlvc status

say "Change the data: edit a file, delete one, add one"
echo "0.5,1" >> data/train/part-000.csv
rm data/test/part-009.csv
echo "x,label" > data/train/part-new.csv
step mlvc status

say "Record the new version in mlvc and git"
step mlvc commit
step git commit -q -am "v2: more training data"
step mlvc status

say "Travel back in time: git checkout v1, then mlvc checkout puts v1's data back"
step git checkout -q v1
step mlvc checkout
test -f data/test/part-009.csv && test ! -f data/train/part-new.csv
step mlvc status

say "And forward again"
step git checkout -q main
step mlvc checkout
test -f data/train/part-new.csv && test ! -f data/test/part-009.csv

say "An unsaved edit is never overwritten without --force"
echo "my unsaved work" > data/train/part-001.csv
if step mlvc checkout; then echo "unexpected: checkout overwrote unsaved work" >&2; exit 1; fi
grep -q "my unsaved work" data/train/part-001.csv
step mlvc checkout --force
step mlvc status --json

say "Share it: push to a remote in a local folder (any path, an NFS mount, or s3://…)"
step mlvc remote add -d store "$WORK/remote-store"
step git commit -q -am "Add the shared remote"
step mlvc status --cloud
step mlvc push --all-branches --all-tags
step mlvc push
step mlvc status --cloud

say "A 3-stage pipeline: prepare -> train -> evaluate, with params in params.yaml"
cat > params.yaml <<'YAML'
prepare:
  min_x: 0.05     # rows with a smaller x are dropped
train:
  lr: 0.5
  epochs: 20
YAML
cat > src/prepare.py <<'PY'
import csv, glob, os, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
os.makedirs("features", exist_ok=True)
for split in ("train", "test"):
    rows = []
    for name in sorted(glob.glob(f"data/{split}/*.csv")):
        rows += [r for r in csv.DictReader(open(name)) if float(r["x"]) >= p["min_x"]]
    with open(f"features/{split}.csv", "w") as f:
        f.write("x,label\n" + "".join(f"{r['x']},{r['label']}\n" for r in rows))
    print(f"{split}: {len(rows)} rows")
PY
cat > src/train.py <<'PY'
import csv, json, math, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = [(float(r["x"]), int(r["label"])) for r in csv.DictReader(open("features/train.csv"))]
w = b = 0.0
for _ in range(p["epochs"]):  # logistic regression, one feature, plain gradient descent
    gw = gb = 0.0
    for x, y in rows:
        e = 1 / (1 + math.exp(-(w * x + b))) - y
        gw, gb = gw + e * x, gb + e
    w, b = w - p["lr"] * gw / len(rows), b - p["lr"] * gb / len(rows)
os.makedirs("models", exist_ok=True)
json.dump({"w": w, "b": b}, open("models/model.json", "w"))
print(f"trained on {len(rows)} rows: w={w:.4f} b={b:.4f}")
PY
cat > src/evaluate.py <<'PY'
import csv, json, math, os
m = json.load(open("models/model.json"))
rows = [(float(r["x"]), int(r["label"])) for r in csv.DictReader(open("features/test.csv"))]
prob = [1 / (1 + math.exp(-(m["w"] * x + m["b"]))) for x, _ in rows]
acc = sum((q > 0.5) == bool(y) for q, (_, y) in zip(prob, rows)) / len(rows)
loss = -sum(math.log(q if y else 1 - q) for q, (_, y) in zip(prob, rows)) / len(rows)
os.makedirs("eval", exist_ok=True)
json.dump({"accuracy": round(acc, 4), "loss": round(loss, 4)}, open("eval/metrics.json", "w"))
PY
step mlvc stage add -n prepare -d src/prepare.py -d data -p prepare -o features python src/prepare.py
step mlvc stage add -n train -d src/train.py -d features/train.csv -p train -o models/model.json python src/train.py
step mlvc stage add -n evaluate -d src/evaluate.py -d models/model.json -d features/test.csv -M eval/metrics.json python src/evaluate.py
step cat mlvc.yaml
step mlvc dag
step mlvc repro
step cat eval/metrics.json
step git add mlvc.yaml mlvc.lock params.yaml src eval .gitignore features/.gitignore models/.gitignore 2>/dev/null || git add -A
step git commit -q -m "Pipeline: prepare, train, evaluate"
step mlvc repro

say "Change a training param: only train and evaluate run again"
sed -i.bak 's/lr: 0.5/lr: 2.0/' params.yaml && rm params.yaml.bak
step mlvc status
step mlvc repro --dry
step mlvc repro | tee "$WORK/repro.log"
if grep -q "Running stage 'prepare'" "$WORK/repro.log"; then
  echo "unexpected: prepare ran although nothing it uses changed" >&2; exit 1
fi
grep -q "Running stage 'train'" "$WORK/repro.log" && grep -q "Running stage 'evaluate'" "$WORK/repro.log"
step cat eval/metrics.json
step git commit -q -am "Train with lr 2.0"

say "Back to the old param: the run cache restores the outputs instead of training again"
sed -i.bak 's/lr: 2.0/lr: 0.5/' params.yaml && rm params.yaml.bak
step mlvc repro

say "Back to the committed version (lr 2.0): git restores the params and the lock, mlvc the model"
step git checkout -q params.yaml mlvc.lock eval/metrics.json
step mlvc checkout
step mlvc push

say "A teammate clones the git repo and pulls the data"
cd "$WORK"
step git clone -q project teammate
cd teammate
step mlvc pull
step diff -r "$WORK/project/data" data
step cmp "$WORK/project/model.pkl" model.pkl
echo "identical: the teammate has exactly the bytes that were pushed"
step cmp "$WORK/project/models/model.json" models/model.json
step mlvc status
say "v1 predates the remote's config: fetch the objects of every tag first, then travel"
step mlvc fetch --all-tags
step git checkout -q v1
step mlvc checkout
test -f data/test/part-009.csv && test ! -f data/train/part-new.csv

say "Why did the metric move? Relabel some training data, reproduce, and ask mlvc diff"
cd "$WORK/project"
python - <<'PY'
# flip the labels of the first training file: the model learns something else
lines = open("data/train/part-000.csv").read().splitlines()
flipped = [lines[0]] + [f"{x},{1 - int(y)}" for x, y in (l.split(",") for l in lines[1:])]
open("data/train/part-000.csv", "w").write("\n".join(flipped) + "\n")
PY
step mlvc commit data
step mlvc repro
step mlvc diff
mlvc diff --json > "$WORK/diff.json"
python - "$WORK/diff.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert any(m["file"] == "eval/metrics.json" for m in doc["metrics"]), "no metric change"
node, path = doc["traces"][0]["trace"], []
while node.get("children"):  # evaluate -> train -> prepare -> the data that changed
    path.append(node["name"])
    node = node["children"][0]
assert path == ["evaluate", "train", "prepare"] and node["name"] == "data", (path, node)
print("the trace leads from eval/metrics.json back to", node["name"] + ":", node["detail"])
PY
step git add -A
step git commit -q -m "v3: relabelled part of the training data"
step mlvc diff HEAD~1 HEAD --md

say "Try other learning rates as experiments: git commits on refs of their own; HEAD stays"
step mlvc exp run -S train.lr=0.1 -n lr-0.1
step mlvc exp run -S train.lr=1.0 -n lr-1
step mlvc exp show
step mlvc exp diff lr-0.1 lr-1
step mlvc exp apply lr-0.1
grep -q "lr: 0.1" params.yaml
test "$(git rev-parse HEAD)" = "$(git rev-parse main)"
step git checkout -q -- .
step mlvc checkout
step mlvc status

say "A sweep: queued, then run two at a time in temporary copies; the workspace stays as it is"
step mlvc exp run --queue -S train.lr=0.3,0.03 -n sweep
step mlvc queue start -j 2
step mlvc exp show --sort-by train.lr
test "$(mlvc exp list --name-only | grep -c '^sweep-')" = 2
step mlvc status

say "Demo finished: data versioned with git, a pipeline that re-runs only what changed, shared through a remote, restored bit for bit, a metric change traced to the data behind it, and experiments compared side by side."
