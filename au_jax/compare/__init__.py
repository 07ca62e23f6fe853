"""Runs side by side in the layout of the paper's Table 7 (`au-jax compare`).

A row is a configuration: runs that differ only in the seed (or, for a cross-validation
workdir, the fold) share a row, shown as mean ± standard deviation (population) over
them. `--baseline NAME` adds each row's difference to row NAME with 95 % intervals.

  runs.py        TrainedRun (one trained model's scores), Row, what a run scored
  loading.py     training workdirs (or table7 JSON entries) as runs, the rows' names
  tables.py      columns, the Markdown and CSV tables, the chart, the report
  intervals.py   differences to a baseline row: paired bootstrap and t intervals
  reevaluate.py  diagnostics of runs that lack them (`au-jax evaluate --diagnostics`)

The names below are the module's interface: `from au_jax import compare`, then
`compare.load_runs(...)`.
"""

from au_jax.compare.intervals import difference
from au_jax.compare.intervals import Difference
from au_jax.compare.intervals import differences_markdown_to
from au_jax.compare.intervals import differences_to
from au_jax.compare.intervals import find_row
from au_jax.compare.loading import FOLD_FIELDS
from au_jax.compare.loading import fold_dirs
from au_jax.compare.loading import load_run
from au_jax.compare.loading import load_runs
from au_jax.compare.loading import name_runs
from au_jax.compare.loading import table7_runs
from au_jax.compare.reevaluate import add_diagnostics
from au_jax.compare.runs import diagnostic
from au_jax.compare.runs import f1
from au_jax.compare.runs import group
from au_jax.compare.runs import own_path
from au_jax.compare.runs import Row
from au_jax.compare.runs import score
from au_jax.compare.runs import SCORES
from au_jax.compare.runs import source_split
from au_jax.compare.runs import target_split
from au_jax.compare.runs import TrainedRun
from au_jax.compare.tables import au_ids
from au_jax.compare.tables import bar_chart
from au_jax.compare.tables import cell
from au_jax.compare.tables import Column
from au_jax.compare.tables import csv_rows
from au_jax.compare.tables import differences
from au_jax.compare.tables import differences_markdown
from au_jax.compare.tables import markdown
from au_jax.compare.tables import report
from au_jax.compare.tables import table7_columns
from au_jax.compare.tables import write
