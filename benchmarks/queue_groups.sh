#!/usr/bin/env bash
# The landmark groups of the target heat-map terms at dlib's setting (docs/results.md,
# "The evaluation protocol"): the best route of benchmarks/queue_routes.sh
# (default+direct) with dlib's unreliable groups left out of the target parts of Eqs. 3
# and 4 (`loss.target_landmark_groups`). The groups come from dlib's error on the
# labelled (lab) domain, measured by `au-jax landmark-error`, not from SynthAU's hidden
# truth. 5 seeds, the protocol of queue_protocol.sh, into the same JSON. Resumable:
#
#   nohup bash benchmarks/queue_groups.sh > runs/groups.log 2>&1 &
# (KEEP, not GROUPS: bash ignores an assignment to GROUPS and returns an error.)
set -euo pipefail
cd "$(dirname "$0")/.."

MEASURED=benchmarks/landmark_error_synthau_lab.json
if [ ! -f "$MEASURED" ]; then
  au-jax landmark-error --manifest data/synthau_protocol/lab/manifest.csv \
      --aligned-size 72 --images 300 --out "$MEASURED"
fi
KEEP=$(python -c "import json; print(tuple(json.load(open('$MEASURED'))['keep']))")
if [ "$KEEP" = "('brows', 'nose', 'eyes', 'mouth')" ]; then
  echo "dlib is under a heat-map cell on every group of the lab domain: nothing to leave out"
  exit 0
fi
PROTOCOL=(--data data/prepared_protocol --workroot runs/protocol
          --out benchmarks/table7_protocol.json
          --set data.target=synthau_wild_detected
          --set "data.target_eval_splits=('validation','test','test_exact')")
for SEED in 0 1 2 3 4; do
  python benchmarks/table7.py "${PROTOCOL[@]}" --rows default --tag direct+groups \
      --seeds "$SEED" --set model.target_path=direct --set model.share_feature_encoder=True \
      --set "loss.target_landmark_groups=$KEEP"
done
for BASE in source_only source_only+AdaBN; do
  for METRIC in auc f1_tuned; do
    python benchmarks/table7.py "${PROTOCOL[@]}" --summary-only --baseline "$BASE" \
        --metric "$METRIC" --save-differences benchmarks/table7_protocol_differences.json
  done
done
