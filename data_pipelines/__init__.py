"""Data pipelines: raw data set layouts -> similarity-aligned TFDS data sets.

`au-jax prepare` (prepare.py) reads BP4D, DISFA, EmotioNet or a manifest (readers/),
detects or reads landmarks, aligns each face (process.py) and writes a TFDS data set with
its metadata.json (builder.py). SynthAU (synthau/) draws the embedded lab -> wild data set.
The package builds on `au_jax` (geometry, face detectors, errors, paths) and never the
other way: training reads what is written here through `au_jax.input_pipeline` and
`au_jax.metadata`.
"""
