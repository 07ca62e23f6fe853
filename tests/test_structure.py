"""The structure drawn from the imports: `data_pipelines` builds on `au_jax`, never the
other way; no module reaches itself through its imports; no file over 400 lines."""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('au_jax', 'data_pipelines')
MAX_LINES = 400


def _modules():
  """module name -> file, for every .py file of the two packages."""
  out = {}
  for package in PACKAGES:
    for root, _, files in os.walk(os.path.join(REPO, package)):
      for name in files:
        if name.endswith('.py'):
          path = os.path.join(root, name)
          parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
          if parts[-1] == '__init__':
            parts = parts[:-1]
          out['.'.join(parts)] = path
  return out


def import_graph():
  """module -> the package modules it imports, at module level or inside a function
  (`from a import b` counts as a.b when a.b is a module, else as a)."""
  modules = _modules()
  graph = {}
  for module, path in modules.items():
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        names = [f'{node.module}.{a.name}' if f'{node.module}.{a.name}' in modules
                 else node.module for a in node.names]
      else:
        continue
      found.update(n for n in names if n in modules and n != module)
    graph[module] = found
  return graph


def _cycle(graph):
  """One import cycle as a list of modules, or None."""
  state = {}
  def visit(node, stack):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state and (found := visit(nxt, stack)):
        return found
    stack.pop()
    state[node] = 'done'
    return None
  for node in sorted(graph):
    if node not in state and (found := visit(node, [])):
      return found
  return None


def _package_imports(graph):
  """A package's import of its own parent package (`au_jax.x` importing `au_jax`) is
  its `__init__`; leave those out of the cycle search, they are not dependencies."""
  return {m: {n for n in deps if not m.startswith(n + '.')} for m, deps in graph.items()}


def test_au_jax_never_imports_data_pipelines():
  graph = import_graph()
  upward = sorted(f'{m} imports {n}' for m, deps in graph.items() if m.startswith('au_jax')
                  for n in deps if n.startswith('data_pipelines'))
  assert not upward
  # and data_pipelines does build on au_jax (the test would pass vacuously otherwise)
  assert any(n.startswith('au_jax') for m, deps in graph.items()
             if m.startswith('data_pipelines') for n in deps)


def test_no_import_cycles():
  assert _cycle(_package_imports(import_graph())) is None


def test_cycle_finder_finds_one():
  assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
  assert _cycle({'a': {'b'}, 'b': set()}) is None


@pytest.mark.parametrize('package', PACKAGES)
def test_no_file_over_400_lines(package):
  long = {}
  for module, path in _modules().items():
    if module.startswith(package):
      with open(path, encoding='utf-8') as f:
        n = sum(1 for _ in f)
      if n > MAX_LINES:
        long[os.path.relpath(path, REPO)] = n
  assert not long


def test_no_two_public_classes_share_a_name():
  seen = {}
  for module, path in _modules().items():
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), path)
    for node in tree.body:
      if isinstance(node, ast.ClassDef) and not node.name.startswith('_'):
        seen.setdefault(node.name, []).append(module)
  assert not {name: where for name, where in seen.items() if len(where) > 1}
