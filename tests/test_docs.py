"""The docs: rendered numbers are current, the README is short, no issue numbers."""

import os
import re
import subprocess

from benchmarks import render_docs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_rendered_pages_match_the_benchmark_json_files():
  assert render_docs.stale() == [], 'run python benchmarks/render_docs.py'


def test_a_field_that_names_no_row_is_a_one_line_error():
  try:
    render_docs.render("{{ f1('table7_synthau', 'Z') }}", 'test')
  except SystemExit as e:
    assert "no row 'Z'" in str(e) and '\n' not in str(e)
  else:
    raise AssertionError('a missing row rendered')


def test_readme_is_short_and_starts_with_the_two_commands():
  with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
    lines = f.read().splitlines()
  assert len(lines) <= 200
  top = '\n'.join(lines[:20])
  assert 'pip install -e . && au-jax demo' in top
  assert 'pip install -e ".[test]" && python -m pytest -q -n 2' in top

def test_ci_runs_the_readme_test_command_before_any_optional_install():
  """CI's first test run is the README's command, in a fresh venv, before any optional
  package is installed: a green CI then says the newcomer's command passes."""
  command = 'pip install -e ".[test]" && python -m pytest -q -n 2'
  with open(os.path.join(REPO, '.ci', 'run'), encoding='utf-8') as f:
    lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith('#')]
  first = lines.index(command)
  assert 'python3 -m venv .venv' in lines[:first]
  before = [line for line in lines[:first] if 'pip install' in line]
  assert before == ['python -m pip install -q --upgrade pip'], before
  assert any('-m needs' in line for line in lines[first:])
  assert any('-m slow' in line for line in lines[first:])


def test_no_issue_numbers_in_the_repository():
  files = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
  pattern = re.compile(r'\bissues? ?#?\d+\b|\bissues/\d+', re.IGNORECASE)
  found = []
  for name in files:
    if not name.endswith(('.py', '.md', '.ipynb', '.cfg', '.txt')):
      continue
    with open(os.path.join(REPO, name), encoding='utf-8', errors='replace') as f:
      found += [f'{name}: {m.group(0)}' for m in pattern.finditer(f.read())]
  assert found == []
