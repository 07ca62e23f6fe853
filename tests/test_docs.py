"""The docs: rendered numbers are current, pages are linked, the README is short, no issue
numbers."""

import glob
import importlib.util
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_renderer():
  spec = importlib.util.spec_from_file_location('_docs_render',
                                                os.path.join(REPO, 'docs', 'render.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


render = _load_renderer()


def test_rendered_pages_match_the_benchmark_json_files():
  assert render.stale() == [], 'run python docs/render.py'


def test_a_page_edited_by_hand_is_stale(monkeypatch):
  read = render._read  # pylint: disable=protected-access
  monkeypatch.setattr(render, '_read',
                      lambda path: read(path) + ('x' if path == 'docs/results.md' else ''))
  assert render.stale() == ['docs/results.md']


def test_a_field_that_names_no_row_is_a_one_line_error():
  try:
    render.render("{{ f1('table7_synthau', 'Z') }}", 'test')
  except SystemExit as e:
    assert "no row 'Z'" in str(e) and '\n' not in str(e)
  else:
    raise AssertionError('a missing row rendered')


@pytest.mark.parametrize('field', [
    "__import__('os').getcwd()", '1 + 1', "f1('table7_synthau', 'G') + 'x'",
    "f1(*['table7_synthau', 'G'])", "f1(**{'name': 'table7_synthau'})", "open('README.md')",
    "table('table7_synthau', rows=rows('table7_synthau'))"])
def test_a_field_is_one_named_call_of_literals_nothing_else_runs(field):
  with pytest.raises(SystemExit, match='test: '):
    render.render('{{ ' + field + ' }}', 'test')


def test_fields_for_rows_not_run_yet():
  assert render.render("{{ table('no_such_file', empty='(none yet)') }}") == '(none yet)'
  assert render.render("{{ f1('table7_synthau', 'Z', absent='not run') }}") == 'not run'
  assert render.render(
      "{{ with_rows('table7_', ('synthau', 'nope'), none='-') }}|"
      "{{ with_rows('table7_', ('nope',), none='-') }}") == 'synthau|-'


def test_every_docs_page_is_linked_and_every_link_resolves():
  pages = sorted(os.path.relpath(p, REPO)
                 for p in glob.glob(os.path.join(REPO, 'docs', '*.md')))
  linked, broken = set(), []
  for page in ['README.md', *pages]:
    with open(os.path.join(REPO, page), encoding='utf-8') as f:
      text = f.read()
    for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
      if re.match(r'[a-z]+:', target):  # https:, mailto:
        continue
      path = os.path.normpath(os.path.join(os.path.dirname(page), target))
      if path != page:
        linked.add(path)
      if not os.path.exists(os.path.join(REPO, path)):
        broken.append(f'{page}: {target}')
  assert broken == []
  # Every page is reachable from the README, directly or through the pages it links.
  assert [p for p in pages if p not in linked] == []


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
