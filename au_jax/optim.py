"""Optimiser groups (SPEC §4) keyed on the model's top-level module names."""

GROUPS = {
    'discriminators': ('landmark_discriminator', 'domain_discriminator_s',
                       'domain_discriminator_t'),
    'generators': ('background_generator', 'feature_generator'),
    'task': ('feature_encoder_s', 'feature_encoder_t', 'landmark_encoder', 'au_detector',
             'projector_feature', 'projector_landmark', 'projector_background'),
    'landmark': ('landmark_branch_s', 'landmark_branch_t', 'shared_blocks'),
}
_GROUP_OF = {module: group for group, modules in GROUPS.items() for module in modules}


def group_of(module_name):
  """The optimiser group of a top-level module of MultiTaskAUNet."""
  try:
    return _GROUP_OF[module_name]
  except KeyError:
    raise ValueError(f'module {module_name!r} belongs to no optimiser group') from None


def partition_labels(params):
  """A tree like `params` whose leaves are group names (for optax.multi_transform)."""
  return {name: _label_tree(tree, group_of(name)) for name, tree in params.items()}


def _label_tree(tree, label):
  if isinstance(tree, dict) or hasattr(tree, 'items'):
    return {k: _label_tree(v, label) for k, v in tree.items()}
  return label
