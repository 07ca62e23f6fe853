#!/usr/bin/env bash
# The evaluation protocol's runs (docs/results.md, "The evaluation protocol"): rows
# source_only, source_only+AdaBN, A and default, seeds 0-4, at dlib's setting (wild
# landmarks from `--detect-wild-landmarks`), small preset, scored on the 5,000-face
# detector-processed wild test split and its exact-landmark control test_exact.
#
#   nohup bash benchmarks/queue_protocol.sh > runs/protocol.log 2>&1 &
#
# Resumable: every step skips what it finds done (table7.py skips the runs already in
# --out and resumes a run from its checkpoints), so after a stop start it again.
# Seed 0 keeps SynthAU's training and validation images and the first 500 test faces
# of the recorded data set (every image has its own random stream); only the test split
# grows. Runs take 5-35 minutes each on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=data/synthau_protocol          # the drawn images
PREPARED=data/prepared_protocol     # the prepared data sets
WORKROOT=runs/protocol
OUT=benchmarks/table7_protocol.json
mkdir -p runs

if [ ! -f "$DATA/wild/detected.json" ]; then
  au-jax synth --output "$DATA" --preset small --seed 0 --wild-test-images 5000 \
      --detect-wild-landmarks --quiet
fi
if [ ! -d "$PREPARED/aligned_faces/synthau_lab" ]; then
  au-jax prepare --format manifest --input "$DATA/lab/manifest.csv" \
      --output "$PREPARED" --name synthau_lab --aligned-size 72
fi
if [ ! -d "$PREPARED/aligned_faces/synthau_wild_detected" ]; then
  au-jax prepare --format manifest --input "$DATA/wild/manifest_detected.csv" \
      --output "$PREPARED" --name synthau_wild_detected --aligned-size 72
fi

PROTOCOL=(--data "$PREPARED" --workroot "$WORKROOT" --out "$OUT"
          --set data.target=synthau_wild_detected
          --set "data.target_eval_splits=('validation','test','test_exact')")
# Seeds are the outer loop: every row's seed 0 first, so a stopped queue leaves rows
# with the same seeds.
python benchmarks/table7.py "${PROTOCOL[@]}" \
    --rows source_only source_only+AdaBN A default --seeds 0 1 2 3 4

# The differences with their intervals (ROC-AUC, then F1 at validation thresholds).
for BASE in source_only source_only+AdaBN; do
  python benchmarks/table7.py "${PROTOCOL[@]}" --summary-only --baseline "$BASE"
  python benchmarks/table7.py "${PROTOCOL[@]}" --summary-only --baseline "$BASE" \
      --metric f1_tuned
done
au-jax compare "$WORKROOT"/*_seed* --baseline source_only --output "$WORKROOT/compare"
