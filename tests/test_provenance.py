"""WORKDIR/provenance.json: the code, libraries, devices and seed of a run."""

import importlib.metadata
import json
import os
import subprocess

import jax
import pytest

from au_jax import provenance

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(cwd, *args):
  return subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@example.org',
                         *args], cwd=cwd, capture_output=True, check=True, text=True).stdout


def test_record_says_what_the_run_was(tmp_path, tiny_config):
  provenance.set_origin(command='au-jax train --config c.py', config_file='c.py',
                        overrides=['--config.loss.sr=40', '--config.seed=3'])
  tiny_config.seed = 3
  out = provenance.record(str(tmp_path), tiny_config)
  assert json.load(open(tmp_path / 'provenance.json')) == out
  assert out['seed'] == 3
  assert out['overrides'] == ['loss.sr=40', 'seed=3']
  assert out['config_file'] == 'c.py'
  session = out['sessions'][0]
  assert session['versions']['jax'] == jax.__version__
  assert session['versions']['flax'] == importlib.metadata.version('flax')
  assert session['versions']['orbax-checkpoint'] == importlib.metadata.version(
      'orbax-checkpoint')
  assert session['versions']['tensorflow'] is not None
  assert session['devices']['count'] == jax.device_count()
  assert session['devices']['kind'] == jax.devices()[0].device_kind
  if os.path.isdir(os.path.join(REPO, '.git')):
    assert session['git']['commit'] == _git(REPO, 'rev-parse', 'HEAD').strip()
    assert isinstance(session['git']['dirty'], bool)


def test_a_resumed_run_adds_a_session_and_keeps_its_origin(tmp_path, tiny_config):
  provenance.set_origin(command='first', overrides=['--config.loss.sr=40'])
  provenance.record(str(tmp_path), tiny_config)
  provenance.set_origin(command='second', overrides=[])
  out = provenance.record(str(tmp_path), tiny_config)
  assert out['command'] == 'first' and out['overrides'] == ['loss.sr=40']
  assert len(out['sessions']) == 2
  # The origin was said for one training: a later one without it records none.
  (tmp_path / 'other').mkdir()
  assert provenance.record(str(tmp_path / 'other'), tiny_config)['overrides'] is None


def test_git_state_clean_dirty_and_outside_a_checkout(tmp_path):
  assert provenance.git_state(str(tmp_path))['commit'] is None
  repo = tmp_path / 'repo'
  repo.mkdir()
  _git(repo, 'init', '-q')
  (repo / 'a.py').write_text('x = 1\n')
  _git(repo, 'add', 'a.py')
  _git(repo, 'commit', '-q', '-m', 'one')
  (repo / 'untracked.txt').write_text('not code\n')
  clean = provenance.git_state(str(repo))
  assert clean['commit'] == _git(repo, 'rev-parse', 'HEAD').strip()
  assert clean['dirty'] is False and clean['diff_sha1'] is None  # untracked: not dirty
  (repo / 'a.py').write_text('x = 2\n')
  dirty = provenance.git_state(str(repo))
  assert dirty['dirty'] is True and dirty['commit'] == clean['commit']
  (repo / 'a.py').write_text('x = 3\n')
  assert provenance.git_state(str(repo))['diff_sha1'] != dirty['diff_sha1']
  # A copy installed inside some other repository is not that repository's code.
  (repo / 'site-packages').mkdir()
  assert provenance.git_state(str(repo / 'site-packages'))['commit'] is None


def test_summary_flags_dirty_trees_and_resumes_elsewhere():
  def session(commit, dirty, count):
    return {'git': {'commit': commit, 'dirty': dirty}, 'versions': {'jax': '1.0'},
            'devices': {'kind': 'TPU v4', 'count': count, 'processes': 1}}
  prov = {'seed': 0, 'sessions': [session('a' * 40, True, 8), session('b' * 40, False, 8)]}
  s = provenance.summary(prov)
  assert s['commit'] == 'aaaaaaaaaa (dirty) (resumed with bbbbbbbbbb)'
  assert s['devices'] == '8 × TPU v4' and s['jax'] == '1.0' and s['seed'] == '0'
  assert provenance.summary(None) == {}


@pytest.fixture(autouse=True)
def _no_leftover_origin():
  yield
  provenance._origin.clear()  # pylint: disable=protected-access
