"""Evaluation: SSIM on the photo half, and the two baselines it is compared with (SPEC §6).

SSIM (Wang et al., 2004) compares local means, contrasts and correlations of two images; 1
means identical. The paper reports SSIM between the generated and the ground-truth photo. Here
it is scikit-image's ``structural_similarity`` on RGB in [0, 1] (7×7 windows, per channel).

Two baselines show what the number means:

- **mean photo**: answer every sketch with the average training photo;
- **nearest neighbour**: answer with the training photo whose *sketch* is closest (L2) to the
  input sketch — retrieval, no generation.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from . import data


def _as_float(images) -> np.ndarray:
    """uint8 (N, H, W, 3) images, or one (H, W, 3), → float64 in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.dtype != np.uint8:
        raise ValueError(f"metrics expect uint8 images, got {images.dtype}")
    return images.astype(np.float64) / 255.0


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of each pair of uint8 RGB images (N, H, W, 3): an array of N values in [-1, 1]."""
    a, b = _as_float(a), _as_float(b)
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ, {a.shape} vs {b.shape}")
    return np.array([structural_similarity(x, y, channel_axis=-1, data_range=1.0) for x, y in zip(a, b)])


def photo_ssim(completed_joint: np.ndarray, true_joint: np.ndarray) -> np.ndarray:
    """SSIM on the photo half of uint8 joint images (N, s, 2s, 3). Explained in the preface."""
    return ssim(data.split(completed_joint)[1], data.split(true_joint)[1])


def nearest_index(query: np.ndarray, pool: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each query image, the index of the pool image nearest in L2 (uint8 arrays, same shape)."""
    q = query.reshape(len(query), -1).astype(np.float32)
    t = pool.reshape(len(pool), -1).astype(np.float32)
    t_sq = (t**2).sum(1)
    return np.concatenate([np.argmin(t_sq[None] - 2 * q[i : i + chunk] @ t.T, axis=1) for i in range(0, len(q), chunk)])


def nearest_neighbour_photos(query_joint: np.ndarray, train_joint: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each query, the photo half of the training image whose sketch half is nearest in L2."""
    best = nearest_index(data.split(query_joint)[0], data.split(train_joint)[0], chunk)
    return data.split(train_joint)[1][best]


def nearest_neighbour_labels(photos: np.ndarray, train_joint: np.ndarray, train_labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Labels (glasses, beard, …) of photos, read off the nearest training photo (L2).

    A classifier-free stand-in for an attribute network: it asks which training face a
    completed photo resembles most. Explained in "Failure cases on sparse sketches".
    """
    best = nearest_index(photos, data.split(train_joint)[1])
    return {name: values[best] for name, values in train_labels.items()}


def mean_photo(train_joint: np.ndarray) -> np.ndarray:
    """The average photo half of the training set, uint8 (s, s, 3)."""
    return np.round(data.split(train_joint)[1].astype(np.float64).mean(0)).astype(np.uint8)


def baselines(test_joint: np.ndarray, train_joint: np.ndarray) -> dict[str, float]:
    """Mean SSIM of the two baselines on ``test_joint``'s photos."""
    truth = data.split(test_joint)[1]
    nn = nearest_neighbour_photos(test_joint, train_joint)
    avg = np.broadcast_to(mean_photo(train_joint), truth.shape)
    return {
        "ssim_nearest_neighbour": float(ssim(nn, truth).mean()),
        "ssim_mean_photo": float(ssim(avg, truth).mean()),
    }
