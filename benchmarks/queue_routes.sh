#!/usr/bin/env bash
# The configured routes at dlib's setting (docs/results.md, "The evaluation protocol"),
# after benchmarks/queue_protocol.sh, into the same JSON and with the same protocol:
#   A+direct        row A (one shared E_f), wild faces read as E_au(E_f(I))
#   default+direct  the shipped default with one shared E_f and the direct path
# 5 seeds each, seeds as the outer loop. Resumable like queue_protocol.sh:
#
#   nohup bash benchmarks/queue_routes.sh > runs/routes.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."

PREPARED=data/prepared_protocol
PROTOCOL=(--data "$PREPARED" --workroot runs/protocol --out benchmarks/table7_protocol.json
          --set data.target=synthau_wild_detected
          --set "data.target_eval_splits=('validation','test','test_exact')")
for SEED in 0 1 2 3 4; do
  python benchmarks/table7.py "${PROTOCOL[@]}" --rows A --tag direct --seeds "$SEED" \
      --set model.target_path=direct
  python benchmarks/table7.py "${PROTOCOL[@]}" --rows default --tag direct --seeds "$SEED" \
      --set model.target_path=direct --set model.share_feature_encoder=True
done
for BASE in source_only source_only+AdaBN; do
  python benchmarks/table7.py "${PROTOCOL[@]}" --summary-only --baseline "$BASE"
done
