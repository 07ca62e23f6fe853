#!/usr/bin/env bash
# Is a seed's score its initialisation or its batches? (docs/results.md, the protocol at
# dlib's setting.) source_only with `config.data_seed` apart from `config.seed`: seed 0's
# initial weights with seeds 1 and 2's batches, seeds 1 and 2's weights with seed 0's
# batches, and seed 0 once more as the control of run-to-run repeatability. Needs the
# protocol's data sets (queue_protocol.sh); resumable, about 5 minutes a run on 2 cores.
#
#   nohup bash benchmarks/queue_seed_probe.sh > runs/seed_probe.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."

P=(--data data/prepared_protocol --workroot runs/protocol --out benchmarks/table7_seed_probe.json
   --set data.target=synthau_wild_detected
   --set "data.target_eval_splits=('validation','test','test_exact')")
python benchmarks/table7.py "${P[@]}" --rows source_only --seeds 0 --tag data1 --set data_seed=1
python benchmarks/table7.py "${P[@]}" --rows source_only --seeds 1 --tag data0 --set data_seed=0
python benchmarks/table7.py "${P[@]}" --rows source_only --seeds 0
python benchmarks/table7.py "${P[@]}" --rows source_only --seeds 0 --tag data2 --set data_seed=2
python benchmarks/table7.py "${P[@]}" --rows source_only --seeds 2 --tag data0 --set data_seed=0
