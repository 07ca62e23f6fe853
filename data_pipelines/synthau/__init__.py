"""SynthAU: a procedurally drawn lab -> wild facial action unit data set.

  from data_pipelines import synthau
  synthau.generate('data/synthau', preset='small', seed=0)
  synthau.make_contact_sheet('data/synthau', 'docs/synthau_contact_sheet.png')

Modules: labels (AU sampling), shape (identities, 68 landmarks), face (drawing), occluders,
domains (lab and wild imaging, `render`), dataset (files and manifests, `generate`), sheet,
cli (`au-jax synth`).
"""

import importlib

# Loaded on first use, so that importing the package (and `au-jax --help`) stays fast.
_LAZY = {
    'generate': 'dataset', 'render_example': 'dataset', 'COLUMNS': 'dataset',
    'PRESETS': 'presets', 'SPLITS': 'presets',
    'Scene': 'domains', 'render': 'domains', 'sample_scene': 'domains',
    'AUS': 'labels', 'AU_NAMES': 'labels', 'sample_labels': 'labels',
    'landmarks': 'shape', 'sample_identity': 'shape',
    'make_contact_sheet': 'sheet',
}

__all__ = sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    module = importlib.import_module(f'data_pipelines.synthau.{_LAZY[name]}')
    return getattr(module, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
