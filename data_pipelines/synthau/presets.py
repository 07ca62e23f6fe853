"""Sizes and default counts of SynthAU (no heavy imports: `au-jax --help` reads them)."""

PRESETS = {
    # raw image side; the alignment output, training crop and heat-map side it is meant for
    'small': {'image_size': 96, 'aligned_size': 72, 'crop_size': 64, 'map_size': 16},
    # Nearer the paper's resolution at a CPU's cost: 128-pixel crops, 32x32 heat maps.
    'medium': {'image_size': 192, 'aligned_size': 144, 'crop_size': 128, 'map_size': 32},
    'paper': {'image_size': 256, 'aligned_size': 200, 'crop_size': 176, 'map_size': 44},
}
SPLITS = ('train', 'validation', 'test')
DEFAULT_LAB_SUBJECTS = (40, 8, 8)
DEFAULT_LAB_IMAGES = (2000, 400, 400)
DEFAULT_WILD_IMAGES = (3000, 500, 500)
# The wild test split of the evaluation protocol (docs/results.md): enough faces that
# every AU has several hundred positives (`au-jax synth --wild-test-images`).
PROTOCOL_WILD_TEST = 5000
