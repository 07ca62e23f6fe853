"""What a run was: WORKDIR/provenance.json, written when training starts.

Next to WORKDIR/config.json (the full config) it records the seed, the command (config
file and `--config.x=y` overrides, when a command said them), the git commit of the code
with a flag when the working tree had uncommitted changes, the versions of jax, flax,
optax, orbax and tensorflow, and the device kind and count. A resumed run appends a
session, so a run continued on another machine or commit says so. `au-jax compare`
shows how runs differ.
"""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys

from au_jax import paths

FILE = 'provenance.json'
PACKAGES = ('jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint', 'tensorflow',
            'tensorflow-datasets', 'numpy')
# Fields that name where things are, not what was trained: never part of a run's name.
PLACES = ('data.data_dir',)

_origin = {}


def set_origin(command=None, config_file=None, overrides=()):
  """Says which command line the next training starts from (commands call this).

  `overrides` are the `--config.x=y` arguments, as 'x=y' strings.
  """
  _origin.clear()
  _origin.update(command=command, config_file=config_file,
                 overrides=[o.removeprefix('--config.') for o in overrides])


def origin():
  return dict(_origin)


def _version(name):
  for candidate in (name, f'{name}-cpu'):  # tensorflow may be installed as tensorflow-cpu
    try:
      return importlib.metadata.version(candidate)
    except importlib.metadata.PackageNotFoundError:
      continue
  return None


def versions():
  return {'python': platform.python_version(), **{p: _version(p) for p in PACKAGES}}


def _git(*args, cwd):
  # --no-optional-locks: reading the state must never rewrite the repository's index.
  out = subprocess.run(['git', '--no-optional-locks', *args], cwd=cwd, capture_output=True,
                       timeout=20, check=True)
  return out.stdout


def git_state(path=None):
  """{'commit', 'dirty', 'diff_sha1'} of the git checkout whose root is `path` (default:
  this package's repository); commit None where that is not a checkout's root (e.g. a
  pip-installed wheel).

  dirty: tracked files differ from the commit (untracked files do not count);
  diff_sha1: a hash of that difference, so two dirty runs can be told apart.
  """
  root = path or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    top = _git('rev-parse', '--show-toplevel', cwd=root).decode().strip()
    if os.path.realpath(top) != os.path.realpath(root):
      raise OSError  # an installed copy inside some other repository: not our code
    commit = _git('rev-parse', 'HEAD', cwd=root).decode().strip()
    status = _git('status', '--porcelain', '--untracked-files=no', cwd=root)
    diff = _git('diff', 'HEAD', cwd=root) if status.strip() else b''
  except (OSError, subprocess.SubprocessError):
    return {'commit': None, 'dirty': None, 'diff_sha1': None}
  return {'commit': commit, 'dirty': bool(status.strip()),
          'diff_sha1': hashlib.sha1(diff).hexdigest() if diff else None}


def devices():
  import jax  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  return {'platform': device.platform, 'kind': device.device_kind,
          'count': jax.device_count(), 'processes': jax.process_count()}


def session():
  """This process's code, libraries and devices, with the time."""
  return {'started': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
          'git': git_state(), 'versions': versions(), 'devices': devices(),
          'au_jax': os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}


def record(workdir, config):
  """Writes (or, on resume, extends) WORKDIR/provenance.json; returns its content."""
  path = paths.resolve(workdir) / FILE
  out = load(workdir)
  if out:  # resumed: the run keeps its origin; this session is added
    out.setdefault('sessions', []).append(session())
  else:
    said = origin()
    out = {'seed': int(config.seed), 'ablation': config.ablation,
           'command': said.get('command') or ' '.join(sys.argv),
           'config_file': said.get('config_file'), 'overrides': said.get('overrides'),
           'sessions': [session()]}
  _origin.clear()  # said for this training only
  tmp = path.with_name(FILE + '.tmp')
  tmp.write_text(json.dumps(out, indent=1), encoding='utf-8')
  tmp.replace(path)
  return out


def load(workdir):
  """The provenance of a workdir, or None for runs from before it was recorded."""
  path = paths.resolve(workdir) / FILE
  if not path.is_file():
    return None
  return json.loads(path.read_text(encoding='utf-8'))


def summary(prov):
  """{'commit': 'abc1234 (dirty)', 'jax': '0.8.1', ..., 'devices': '1 × cpu'}: the
  first session's values as short strings, with a note when later sessions differ."""
  if not prov:
    return {}
  first = prov['sessions'][0]
  out = {'seed': str(prov.get('seed')), 'commit': _commit(first['git'])}
  out.update({k: str(v) for k, v in first['versions'].items() if v})
  d = first['devices']
  out['devices'] = f'{d["count"]} × {d["kind"]}' + (
      f' on {d["processes"]} processes' if d.get('processes', 1) > 1 else '')
  later = prov['sessions'][1:]
  for key, describe in (('commit', lambda s: _commit(s['git'])),
                        ('devices', lambda s: f'{s["devices"]["count"]} × '
                                              f'{s["devices"]["kind"]}')):
    others = sorted({describe(s) for s in later} - {out[key]})
    if others:
      out[key] += f' (resumed with {", ".join(others)})'
  return out


def _commit(git):
  if not git.get('commit'):
    return 'not a git checkout'
  return git['commit'][:10] + (' (dirty)' if git.get('dirty') else '')
