"""Evaluation: SSIM and PSNR on the photo half, the two baselines they are compared with (SPEC §6),
and the measures of chapter "Contextual GAN vs pix2pix": attribute preservation, realism and
sketch fidelity.

SSIM (Wang et al., 2004) compares local means, contrasts and correlations of two images; 1
means identical. The paper reports SSIM between the generated and the ground-truth photo. Here
it is scikit-image's ``structural_similarity`` on RGB in [0, 1] (7×7 windows, per channel).

Two baselines show what the number means:

- **mean photo**: answer every sketch with the average training photo;
- **nearest neighbour**: answer with the training photo whose *sketch* is closest (L2) to the
  input sketch — retrieval, no generation.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from . import attributes, data
from .project import kl_bernoulli, to_probability


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


def mean_interval(values, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of per-face ``values`` and its percentile bootstrap interval
    (scipy.stats.bootstrap, ``resamples`` resamplings of the faces, seeded).

    For a paired comparison of two methods on the same faces pass the differences ``a − b``: an
    interval that excludes 0 ranks them. Explained in "Projection through back-propagation".
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2 or not np.isfinite(values).all():
        raise ValueError(f"mean_interval: needs at least 2 finite values, got {values.size} (finite: {np.isfinite(values).all()})")
    if np.ptp(values) == 0:  # every resample has the same mean
        return float(values[0]), float(values[0]), float(values[0])
    ci = stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=resamples,
                         method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
    return float(values.mean()), float(ci.low), float(ci.high)


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR in dB of each pair of uint8 RGB images (N, H, W, 3): 10 log10(1 / MSE) on [0, 1]; inf if identical."""
    a, b = _as_float(a), _as_float(b)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ, {a.shape} vs {b.shape}")
    with np.errstate(divide="ignore"):
        return np.array([peak_signal_noise_ratio(x, y, data_range=1.0) for x, y in zip(a, b)])


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


# ---------------------------------------------------------------- chapter "Contextual GAN vs pix2pix"
def attribute_agreement(predicted: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Attribute preservation, per photo: for each attribute 1.0 where the predicted class is the
    true one (else 0.0), and under ``"all"`` 1.0 where every attribute is right. Their means are
    the fractions that ``evaluate`` reports."""
    hits = {name: (predicted[name] == np.asarray(truth[name])).astype(np.float64) for name in predicted}
    return {**hits, "all": np.prod(list(hits.values()), axis=0)}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features (N, d) and (M, d):

        FD = |μ_a − μ_b|² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½)

    (Heusel et al.'s FID when the features are Inception's; here they are the attribute
    classifier's). 0 for identical sets. With few samples it is biased upwards, so compare
    values computed from the same numbers of samples only.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"frechet_distance needs two (N >= 2, d) feature arrays of the same d, got {a.shape} and {b.shape}")
    return frechet_from_moments(*moments(a), *moments(b))


def moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features (N, d), float64: the Gaussian that :func:`frechet_distance` fits."""
    features = np.asarray(features, np.float64)
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_from_moments(mu_a, cov_a, mu_b, cov_b) -> float:
    """:func:`frechet_distance` from the two sets' :func:`moments` (a fixed reference's are computed once)."""
    # tr (Σ_a Σ_b)^½ = Σ √eig(Σ_a^½ Σ_b Σ_a^½): a symmetric matrix, so exact even when Σ_a or Σ_b is
    # singular (dead features), where a general matrix square root is not
    w, V = np.linalg.eigh(cov_a)
    root_a = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    fd = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(fd, 0.0))


def resketch(photos: np.ndarray, style: str | list[str] = "xdog") -> np.ndarray:
    """The sketch the data pipeline would draw from uint8 photos (N, s, s, 3): each photo is
    enlarged to 64 px (bicubic; the sketch styles are tuned there), sketched in ``style`` (one
    for all, or one per photo) and shrunk back; uint8 (N, s, s, 3)."""
    styles = [style] * len(photos) if isinstance(style, str) else list(style)
    if len(styles) != len(photos):
        raise ValueError(f"resketch: {len(styles)} styles for {len(photos)} photos")
    out = np.empty_like(photos)
    for i, (photo, st) in enumerate(zip(photos, styles)):
        big = cv2.resize(photo, (64, 64), interpolation=cv2.INTER_CUBIC) if photo.shape[0] != 64 else photo
        out[i] = data.split(data.make_joint(big, photo.shape[0], st))[0]
    return out


def sketch_fidelity(sketches: np.ndarray, photos: np.ndarray, style: str | list[str] = "xdog", eps: float = 1e-3) -> np.ndarray:
    """Sketch fidelity: the contextual (KL) loss between each input sketch and the sketch of the
    output photo, both uint8 (N, s, s, 3); lower = the photo follows the drawn lines more closely.

    The KL is the completion's own L_c (see :func:`project.contextual_loss`), averaged over pixels.
    """
    if sketches.shape != photos.shape:
        raise ValueError(f"sketch_fidelity: shapes differ, {sketches.shape} vs {photos.shape}")
    p = to_probability(data.to_tensor(sketches), eps)
    q = to_probability(data.to_tensor(resketch(photos, style)), eps)
    return kl_bernoulli(p, q).flatten(1).mean(1).numpy().astype(np.float64)


# ---------------------------------------------------------------- chapter "Training the GAN": mode collapse
def mean_pairwise_distance(photos: np.ndarray, n: int = 200) -> float:
    """Mean absolute pixel difference (0–255) over all pairs of the first ``n`` uint8 photos."""
    x = np.asarray(photos[:n], np.float32).reshape(min(n, len(photos)), -1)
    if len(x) < 2:
        raise ValueError(f"mean_pairwise_distance needs >= 2 photos, got {len(x)}")
    d = [np.abs(x[i + 1 :] - x[i]).mean(1) for i in range(len(x) - 1)]
    return float(np.concatenate(d).mean())


def _classifier_size(photos: np.ndarray, size: int) -> np.ndarray:
    """uint8 photos resized (area interpolation) to the classifier's side, if they differ."""
    if photos.shape[1] == size:
        return photos
    return np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in photos])


def class_rates(predicted: np.ndarray, classes: int) -> np.ndarray:
    """The fraction of photos in each class: a histogram that sums to 1, shape (classes,)."""
    return np.bincount(predicted, minlength=classes)[:classes] / max(1, len(predicted))


def coverage(sample_rates: np.ndarray, data_rates: np.ndarray) -> float:
    """The fraction of the data's classes that the samples produce at >= half their data rate."""
    present = data_rates > 0
    return float((sample_rates[present] >= 0.5 * data_rates[present]).mean())


def sample_quality(samples: np.ndarray, reference: np.ndarray, classifier=None) -> dict:
    """How well a generator covers the data: its sample photos against held-out real photos.

    Both are uint8 (N, s, s, 3). Always: ``diversity``, the mean pairwise distance of the samples
    over that of the real photos (≈ 1 for a generator that varies as much as the data, → 0 under
    mode collapse). With the attribute classifier of :mod:`cgan_minimal.attributes`:

    - ``fd``: the Fréchet distance between the classifier's features of both sets;
    - per attribute, the class rates of the samples and of the real photos (both as the
      classifier reads them) and ``coverage``: the fraction of classes sampled at >= half their
      data rate (1 = every hair style is there; 1/6 for a generator that draws one style).

    Explained in "Training the GAN".
    """
    out = {"n": len(samples), "n_reference": len(reference),
           "diversity": mean_pairwise_distance(samples) / mean_pairwise_distance(reference)}
    if classifier is None:
        return out
    size = classifier.cfg.size
    samples, reference = _classifier_size(samples, size), _classifier_size(reference, size)
    out["fd"] = frechet_distance(attributes.features(classifier, samples), attributes.features(classifier, reference))
    pred_s, pred_r = attributes.predict(classifier, samples), attributes.predict(classifier, reference)
    out["attributes"] = {}
    for name, k in zip(classifier.cfg.attributes, classifier.cfg.classes):
        rs, rr = class_rates(pred_s[name], k), class_rates(pred_r[name], k)
        out["attributes"][name] = {"samples": rs.round(4).tolist(), "data": rr.round(4).tolist(), "coverage": coverage(rs, rr)}
    return out


def completion_quality(completed: np.ndarray, truth: np.ndarray, labels: dict[str, np.ndarray] | None = None, classifier=None) -> dict:
    """Do completions follow their sketches? Completed and true photos, uint8 (N, s, s, 3).

    - ``diversity``: mean pairwise distance of the completed photos over that of the true ones;
    - ``nearest_own``: how often a completion is nearer (L2) to its own true photo than to any
      other true photo of the set (chance: 1/N);
    - with the classifier: per attribute, ``agreement`` (predicted class of the completion = the
      true class) and, for two-class attributes, ``kept``: among the faces that have it (class 1),
      the fraction whose completion has it too. True classes are ``labels`` if given, else the
      classifier's reading of the true photos.

    Explained in "Training the GAN".
    """
    if completed.shape != truth.shape:
        raise ValueError(f"completion_quality: shapes differ, {completed.shape} vs {truth.shape}")
    own = nearest_index(completed, truth) == np.arange(len(truth))
    out = {"n": len(truth), "diversity": mean_pairwise_distance(completed) / mean_pairwise_distance(truth),
           "nearest_own": float(own.mean())}
    if classifier is None:
        return out
    size = classifier.cfg.size
    pred = attributes.predict(classifier, _classifier_size(completed, size))
    true = labels if labels is not None else attributes.predict(classifier, _classifier_size(truth, size))
    out["attributes"] = {}
    for name, k in zip(classifier.cfg.attributes, classifier.cfg.classes):
        t = np.asarray(true[name])
        entry = {"agreement": float((pred[name] == t).mean())}
        if k == 2:
            has = t == 1
            entry["kept"] = float((pred[name][has] == 1).mean()) if has.any() else None
            entry["n_with"] = int(has.sum())
        out["attributes"][name] = entry
    return out
