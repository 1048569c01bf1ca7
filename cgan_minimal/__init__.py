"""cgan_minimal: Contextual GAN (Lu et al., ECCV 2018) in a few readable files.

    xdog     XDoG line sketches                         (chapter "Sketches with XDoG")
    faces    the embedded dataset of procedural faces   (chapter "The joint representation")
    data     joint images [sketch | photo], masks, datasets
    models   DCGAN generator G and discriminator D      (chapter "Training the GAN")
    train    training on joint images, checkpoints
    project  completion: contextual + perceptual loss, best-of-N init, projection of z
    metrics  SSIM and the baselines
"""

from . import data, faces, metrics, models, project, train, xdog
from .utils import pick_device, set_seed

__all__ = ["data", "faces", "metrics", "models", "project", "train", "xdog", "set_seed", "pick_device"]
__version__ = "0.1.0"
