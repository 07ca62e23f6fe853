"""One Linen module per component of the paper (docs/method.md §1), and the model that joins them."""

from au_jax.models.au_detector import AUDetector
from au_jax.models.background_generator import BackgroundGenerator
from au_jax.models.domain_discriminator import DomainDiscriminator
from au_jax.models.feature_encoder import FeatureEncoder
from au_jax.models.feature_generator import FeatureGenerator
from au_jax.models.landmark_branch import CBAM, LandmarkBranch
from au_jax.models.landmark_discriminator import LandmarkDiscriminator
from au_jax.models.landmark_encoder import LandmarkEncoder, landmark_feature
from au_jax.models.multitask import MultiTaskAUNet, init_feature_encoders_from_branches
from au_jax.models.projector import Projector
