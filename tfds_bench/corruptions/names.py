"""The ImageNet-C corruption and ImageNet-P perturbation names.

The one list of each, owned by the engine; `tfds_bench.metrics` imports them.
Plain tuples: importing this module loads neither numpy nor TensorFlow.
"""

# The 15 test corruptions in the ImageNet-C paper's order, then the 4 held-out ones.
TEST_NAMES = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
HELDOUT_NAMES = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
NAMES = TEST_NAMES + HELDOUT_NAMES
SEVERITIES = (1, 2, 3, 4, 5)

# The 10 test perturbations of ImageNet-P (Hendrycks & Dietterich 2019), then
# the 4 held-out ones.
TEST_PERTURBATIONS = ("gaussian_noise", "shot_noise", "motion_blur", "zoom_blur", "snow",
                      "brightness", "translate", "rotate", "tilt", "scale")
HELDOUT_PERTURBATIONS = ("speckle_noise", "gaussian_blur", "spatter", "shear")
PERTURBATIONS = TEST_PERTURBATIONS + HELDOUT_PERTURBATIONS

# The 10 corruptions of ImageNet-C-bar (Mintun, Kirillov & Xie, NeurIPS 2021),
# in alphabetical order (facebookresearch/augmentation-corruption
# imagenet_c_bar/imagenet_c_bar.csv lists the same ten).
C_BAR_NAMES = ("blue_noise_sample", "brownish_noise", "caustic_refraction", "checkerboard_cutout",
               "cocentric_sine_waves", "inverse_sparkles", "perlin_noise", "plasma_noise",
               "single_frequency_greyscale", "sparkles")
# Every name `tfds_bench.corruptions.apply` accepts.
ALL_NAMES = NAMES + C_BAR_NAMES
