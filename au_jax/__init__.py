"""au_jax: multi-task facial action unit detection for unlabeled faces in the wild.

A JAX/Flax reimplementation of Shang & Liu's method (AU domain separation and
reconstruction jointly trained with two landmark branches, pixel-level feature alignment
with projectors, and a weighted asymmetric loss); see README.md and docs/method.md.
"""

__version__ = '0.1.0'
