#!/usr/bin/env bash
# The main job, end to end, on a fresh machine: creates its own virtualenv, installs mlvc,
# and versions a small dataset and model next to git in a temporary folder.
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
if mlvc checkout; then echo "unexpected: checkout overwrote unsaved work" >&2; exit 1; fi
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

say "A teammate clones the git repo and pulls the data"
cd "$WORK"
step git clone -q project teammate
cd teammate
step mlvc pull
step diff -r "$WORK/project/data" data
step cmp "$WORK/project/model.pkl" model.pkl
echo "identical: the teammate has exactly the bytes that were pushed"
step git checkout -q v1
step mlvc pull
test -f data/test/part-009.csv && test ! -f data/train/part-new.csv

say "Demo finished: data versioned with git, shared through a remote, restored bit for bit."
