#!/usr/bin/env bash
# How good a detector the method needs (docs/results.md): SynthAU's calibrated detector
# (`au-jax synth --calibrate R`: the true neutral shape + R x the true AU motion + dlib's
# measured error per landmark group, faces missed at dlib's recall) at R = 0.25, 0.5
# and 0.75, and exact points (level "exact": the same faces with their true landmarks),
# beside dlib itself (benchmarks/queue_protocol.sh).
# Rows source_only, A, default (configs/default.py: one E_f, the direct path, the best
# route at dlib's setting), 3 seeds each, with the protocol of queue_protocol.sh; at
# exact points also default+reconstruction (two extractors and the reconstruction path,
# the earlier default and configs/synthetic.py's choice).
# Needs the protocol's data set (queue_protocol.sh makes it). Resumable:
#
#   nohup bash benchmarks/queue_calibrated.sh > runs/calibrated.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=data/synthau_protocol
PREPARED=data/prepared_protocol
LEVELS=(0.25 0.50 0.75 exact)
for R in "${LEVELS[@]}"; do
  if [ "$R" = exact ]; then
    if [ ! -d "$PREPARED/aligned_faces/synthau_wild_exact" ]; then
      au-jax prepare --format manifest --input "$DATA/wild/manifest.csv" \
          --output "$PREPARED" --name synthau_wild_exact --aligned-size 72 --quiet
    fi
    continue
  fi
  if [ ! -f "$DATA/wild/manifest_calibrated_r$R.csv" ]; then
    au-jax synth --output "$DATA" --preset small --seed 0 --calibrate "$R"
  fi
  NAME="synthau_wild_calibrated_r${R/./}"
  if [ ! -d "$PREPARED/aligned_faces/$NAME" ]; then
    au-jax prepare --format manifest --input "$DATA/wild/manifest_calibrated_r$R.csv" \
        --output "$PREPARED" --name "$NAME" --aligned-size 72 --quiet
  fi
done

protocol() {  # the arguments of every run at level $1
  local name="synthau_wild_calibrated_r${1/./}"
  [ "$1" = exact ] && name=synthau_wild_exact
  echo --data "$PREPARED" --workroot "runs/calibrated_r$1" \
      --out "benchmarks/table7_calibrated_r$1.json" --set "data.target=$name"
}
splits() {  # the exact level has no control split: all its points are exact
  if [ "$1" = exact ]; then echo "data.target_eval_splits=('validation','test')"
  else echo "data.target_eval_splits=('validation','test','test_exact')"; fi
}
run() {  # run LEVEL SEED ROW... : the rows at one level and seed
  local r=$1 seed=$2; shift 2
  # shellcheck disable=SC2046
  python benchmarks/table7.py $(protocol "$r") --set "$(splits "$r")" \
      --rows "$@" --seeds "$seed"
}
reconstruction() {  # the earlier default at exact points: it decides configs/synthetic.py
  # shellcheck disable=SC2046
  python benchmarks/table7.py $(protocol exact) --set "$(splits exact)" --rows default \
      --tag reconstruction --seeds "$1" --set model.target_path=reconstruction \
      --set model.share_feature_encoder=False
}
# The two rows that R* compares (source_only, default) come first, seed by seed, so that
# each pass gives their whole curve; the middle level first. Then the reconstruction row
# (exact points only) and row A, seed by seed.
for SEED in 0 1 2; do
  for R in 0.50 exact 0.25 0.75; do run "$R" "$SEED" source_only default; done
done
for SEED in 0 1 2; do
  reconstruction "$SEED"
  for R in 0.50 exact 0.25 0.75; do run "$R" "$SEED" A; done
done
for R in "${LEVELS[@]}"; do
  # shellcheck disable=SC2046
  python benchmarks/table7.py $(protocol "$R") --summary-only --baseline source_only \
      --save-differences "benchmarks/table7_calibrated_r${R}_differences.json"
done
python benchmarks/plot_calibrated.py  # docs/calibrated_detector.png and each row's R*
