#!/bin/bash
# One short book for the rank / queue decisions (sessions 27-28, benchmarks/rank_decide.py): generate, ingest,
# train one variant, backtest it. Data (gen, ing) are shared per book; each variant V has its own MLflow registry,
# train.log and bt (ews backtest --model 1 --compare-keys --rows --train-config CFG).
#
# usage: [W=dir] [CODE=dir] [V=variant] [CFG=yaml] [NOTRAIN=1] [NOBT=1] \
#        benchmarks/rank_book.sh NAME gen|unseen REGIME_OR_VARIANT SEED DEBTORS MONTHS CUT_YAML FROM TO
#   W     work folder (books in W/books/NAME; CUT_YAML relative to W); default /work/bench/rank
#   CODE  the code that runs (a git archive of the commit measured); default this checkout
#   V     variant name (default main); CFG its train config (default W/CUT_YAML)
#   VENV  the virtual environment whose ews / python run (default /work/main/.venv)
#   NOTRAIN=1: generate and ingest only (before a pre-registration); NOBT=1: no backtest
# e.g. (session 28): V=main rank_book.sh base-1000x24-s17 gen base 17 1000 24 train_cut24.yaml 2024-04-01 2024-09-30
#      unseen:        rank_book.sh unseen-small-s109 unseen small 109 600 30 train_cut30.yaml 2024-05-01 2025-03-31
# train_cutNN.yaml = conf/train.yaml with snapshots.end 2023-12-31 (24 months) / 2024-01-31 (unseen 30 months).
set -euo pipefail
if [ $# -ne 9 ] || [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then sed -n '2,15p' "$0" | cut -c3-; [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; exit $?; fi
N=$1; K=$2; R=$3; S=$4; D=$5; M=$6; CUT=$7; FROM=$8; TO=$9
W=${W:-/work/bench/rank}
B=$W/books/$N
V=${V:-main}
CODE=${CODE:-$(cd "$(dirname "$0")/.." && pwd)}
CFG=${CFG:-$W/$CUT}
VENV=${VENV:-/work/main/.venv}  # its ews entry point runs the code on PYTHONPATH (CODE)
PY=$VENV/bin/python
mkdir -p "$B/$V"
export PYTHONPATH=$CODE OMP_NUM_THREADS=1 MLFLOW_TRACKING_URI=sqlite:///$B/$V/mlflow.db EWS_MLFLOW_ARTIFACTS=$B/$V/artifacts
EWS="nice -n 19 $VENV/bin/ews --project $CODE"
cd "$B"
T="/usr/bin/time -f %U_%S_%e_%MkB"
echo "== $N/$V start $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
if [ ! -f gen/truth.parquet ]; then
  if [ "$K" = gen ]; then $T $EWS generate --regime "$R" --seed "$S" --debtors "$D" --months "$M" --out gen > gen.log 2>&1
  else $T nice -n 19 "$PY" "$CODE/benchmarks/unseen_book.py" --variant "$R" --seed "$S" --out gen > gen.log 2>&1; fi
fi
[ -f ing/manifest.json ] || { $T $EWS ingest --invoices gen/invoices.parquet --payments gen/payments.parquet --debtors gen/debtors.parquet --events gen/events.parquet --as-of 2026-01-01 --no-docs --out ing > ing.log 2>&1 && cp gen/truth.parquet ing/; }
[ -n "${NOTRAIN:-}" ] || [ -f "$V/train.done" ] || { $T $EWS train --data ing --config "$CFG" > "$V/train.log" 2>&1 && touch "$V/train.done"; }
[ -n "${NOTRAIN:-}" ] || [ -n "${NOBT:-}" ] || [ -f "$V/bt/backtest.json" ] || $T $EWS backtest --data ing --from "$FROM" --to "$TO" --out "$V/bt" --model 1 --compare-keys --rows --train-config "$CFG" > "$V/bt.log" 2>&1
echo "== $N/$V done $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
