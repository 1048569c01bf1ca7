"""Contextual GAN against pix2pix on clean and "poorly drawn" sketches (chapter "Contextual GAN
vs pix2pix"; ``python -m cgan_minimal evaluate``).

The paper's claim: the sketch is only a weak constraint for completion, so Contextual GAN
still gives plausible photos from badly drawn sketches, where pix2pix, trained to follow the
edges, does not. To test it, the same held-out sketches are redrawn at several strengths of
:func:`xdog.perturb` (0 = clean) and both models answer every set. Five numbers per method and
strength (↑ higher is better, ↓ lower is better):

- **SSIM** ↑ and **PSNR** ↑ of the photo against the ground truth;
- **attributes** ↑: the fraction of photos whose attributes (glasses, beard, hair style, smile)
  the classifier of :mod:`cgan_minimal.attributes` reads as all equal to the true labels — the
  stand-in for the paper's identity check;
- **realism FD** ↓: the Fréchet distance between the classifier's features of the photos and
  of ``reference`` real photos (an FID with a domain network);
- **fidelity KL** ↓: the contextual loss between the input sketch and the sketch of the photo,
  i.e. how closely the photo follows the lines as drawn.

Three more rows per strength say what the numbers mean:

- ``real_photo``: the true photos, what a perfect answer gets;
- ``shuffled_sketch``: Contextual GAN's photo of another face's sketch, scored against this
  face's truth (face i gets the completion of face i − 1's sketch). A method whose answer does
  not depend on the sketch scores the same here as on its own sketch;
- ``constant_answer``: the mean of the reference photos for every sketch, the best single photo
  by squared error — what a model that ignores its input entirely gets.

Each row's SSIM carries a 95 % bootstrap interval over the faces (``ssim_low``, ``ssim_high``),
and :attr:`Evaluation.per_face` keeps the per-face values, so two methods are compared on the
same faces with :func:`paired` (a paired bootstrap interval of the difference).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import attributes, data, metrics, pix2pix
from .figures import grid, save_figure
from .models import Discriminator, Generator
from .project import ProjectConfig, complete_images
from .train import TrainConfig, load_held_out_data, load_models, reference_photos
from .utils import atomic_path, check_output_folder, pick_device, to_json

METHODS = ("contextual_gan", "pix2pix", "real_photo", "shuffled_sketch", "constant_answer")
COLUMNS = ("ssim", "psnr", "attributes", "realism_fd", "fidelity_kl")  # the table's numbers, in order
HIGHER = {"ssim": True, "psnr": True, "attributes": True, "realism_fd": False, "fidelity_kl": False}  # the better direction (↑ / ↓)
NAMES = {"ssim": "SSIM", "psnr": "PSNR dB", "attributes": "attributes", "realism_fd": "realism FD", "fidelity_kl": "fidelity KL"}
HEADERS = {c: f"{NAMES[c]} {'↑' if HIGHER[c] else '↓'}" for c in COLUMNS}


@dataclass(frozen=True)
class EvalConfig:
    """What :func:`evaluate` measures; the defaults take about 3 minutes on 2 CPU cores at the cpu preset."""

    n: int = 128  # held-out sketches, the same faces at every strength (the FD needs more than its 32 features)
    strengths: tuple[float, ...] = (0.0, 0.33, 0.67, 1.0)  # perturbation strengths; 0 = the clean sketches
    reference: int = 1000  # real photos whose classifier features are the FD's reference
    seed: int = 0  # seeds the perturbations and the completions' initial z
    batch_size: int = 64  # sketches completed at once
    examples: int = 6  # faces shown in examples.png

    def validate(self) -> "EvalConfig":
        if self.n < 2 or self.reference < 2:
            raise ValueError(f"evaluate needs n >= 2 and reference >= 2 (a covariance for the FD), got n={self.n}, reference={self.reference}")
        if not self.strengths or any(not (math.isfinite(s) and s >= 0) for s in self.strengths):
            raise ValueError(f"strengths must be finite numbers >= 0, got {self.strengths}")
        return self


@dataclass
class Models:
    """The two models being compared and the classifier that scores them."""

    G: Generator  # Contextual GAN's generator …
    D: Discriminator  # … and discriminator
    G_pix2pix: pix2pix.UNet  # pix2pix's generator
    classifier: attributes.AttributeClassifier
    train_cfg: TrainConfig  # Contextual GAN's training settings: data, style, seed
    size: int


def load(checkpoint, baseline, classifier=None, device="cpu") -> Models:
    """Load both models and the classifier, checking that they were made for the same images."""
    G, D, model_cfg, train_cfg = load_models(checkpoint, device)
    G_p, p_cfg, p_train = pix2pix.load(baseline, device)
    if p_cfg.size != model_cfg.size:
        raise ValueError(f"{checkpoint} makes {model_cfg.size}-px photos but the baseline {baseline} makes {p_cfg.size}-px ones")
    if (p_train.data, p_train.style) != (train_cfg.data, train_cfg.style):
        raise ValueError(
            f"the two models were trained on different data: {checkpoint} on {train_cfg.data} ({train_cfg.style}), "
            f"{baseline} on {p_train.data} ({p_train.style})"
        )
    if classifier is None:
        if train_cfg.data != "faces":
            raise ValueError(f"the models were trained on {train_cfg.data}: pass --classifier, one trained on that data's labels")
        classifier = attributes.PRETRAINED
    return Models(G, D, G_p, attributes.load(classifier, expected_size=model_cfg.size), train_cfg, model_cfg.size)


def per_face(clf, photos, truth, labels, sketches, styles) -> dict[str, np.ndarray]:
    """One method's values on each face (uint8 photos, truths and input sketches, (N, s, s, 3)):
    SSIM, PSNR, whether all attributes / each attribute agree, fidelity KL, and the classifier's features."""
    agree = metrics.attribute_agreement(attributes.predict(clf, photos), labels)
    return {
        "ssim": metrics.ssim(photos, truth),
        "psnr": metrics.psnr(photos, truth),
        "attributes": agree.pop("all"),
        "fidelity_kl": metrics.sketch_fidelity(sketches, photos, styles),
        "features": attributes.features(clf, photos),
        **{f"attr_{name}": hits for name, hits in agree.items()},
    }


def score(values: dict[str, np.ndarray], reference_features: np.ndarray) -> dict[str, float]:
    """The row of one method on one set: the means of :func:`per_face`, the SSIM's interval and the realism FD."""
    mean_ssim, low, high = metrics.mean_interval(values["ssim"])
    return {
        "ssim": mean_ssim,
        "ssim_low": low,
        "ssim_high": high,
        **{k: float(np.mean(v)) for k, v in values.items() if k not in ("ssim", "features")},
        "realism_fd": metrics.frechet_distance(values["features"], reference_features),
    }


def paired(result: "Evaluation", a: tuple[str, float], b: tuple[str, float], column: str = "ssim", resamples: int = 1000,
           seed: int = 0) -> tuple[float, float, float]:
    """``(difference, low, high)``: ``a`` minus ``b`` on the same faces, each a ``(method, strength)``
    key of :attr:`Evaluation.per_face`, with a 95 % paired bootstrap interval; one that excludes 0
    ranks them. ``column`` is a per-face value (ssim, psnr, attributes, fidelity_kl, attr_*) or
    ``realism_fd``, for which the faces are resampled together for both. Explained in
    "Contextual GAN vs pix2pix"."""
    va, vb = result.per_face[a], result.per_face[b]
    if column != "realism_fd":
        return metrics.mean_interval(va[column] - vb[column], resamples=resamples, seed=seed)
    ref = metrics.moments(result.reference_features)

    def difference(i):
        fd_a = metrics.frechet_from_moments(*metrics.moments(va["features"][i]), *ref)
        return fd_a - metrics.frechet_from_moments(*metrics.moments(vb["features"][i]), *ref)

    rng = np.random.default_rng(seed)
    n = len(va["features"])
    low, high = np.percentile([difference(rng.integers(0, n, n)) for _ in range(resamples)], [2.5, 97.5])
    return difference(np.arange(n)), float(low), float(high)


def shuffled(n: int) -> np.ndarray:
    """The derangement of the shuffled-sketch baseline: face i gets the answer to face i − 1's sketch."""
    return np.roll(np.arange(n), 1)


@dataclass
class Evaluation:
    """What :func:`evaluate` returns: one row per method and strength, and the example images."""

    rows: list[dict]
    per_face: dict[tuple[str, float], dict[str, np.ndarray]] = field(default_factory=dict)  # (method, strength) → per_face()
    reference_features: np.ndarray | None = None  # the classifier's features of the FD's real photos
    examples: dict[float, dict[str, np.ndarray]] = field(default_factory=dict)  # strength → {"sketch", method: photos}
    settings: dict = field(default_factory=dict)


def evaluate(models: Models, cfg: EvalConfig = EvalConfig(), project_cfg: ProjectConfig = ProjectConfig(iters=200), data_path=None) -> Evaluation:
    """Both methods on ``cfg.n`` held-out sketches at every strength; explained in "Contextual GAN vs pix2pix"."""
    cfg.validate()
    project_cfg.validate()
    if project_cfg.known != "sketch":
        raise ValueError("evaluate compares sketch → photo: known must be 'sketch'")
    if min(cfg.n, cfg.reference) <= models.classifier.cfg.features:
        raise ValueError(f"the Fréchet distance needs more photos than the classifier's {models.classifier.cfg.features} features: "
                         f"got n={cfg.n}, reference={cfg.reference}")
    test = load_held_out_data(models.train_cfg, models.size, cfg.n, data_path)
    truth = data.split(test.images)[1]
    labels = attributes.class_labels(test, models.classifier.cfg.attributes)
    mix = data.parse_styles(models.train_cfg.style) if test.source.startswith("faces") else ["xdog"]
    styles = [mix[(data.HELD_OUT_START + i) % len(mix)] for i in range(len(test))]  # the style each test sketch was drawn in
    reference = reference_photos(models.train_cfg, models.size, cfg.reference)
    ref = attributes.features(models.classifier, reference)
    constant = np.broadcast_to(reference.mean(0).round().astype(np.uint8), truth.shape)
    other = shuffled(len(test))
    device = next(models.G.parameters()).device
    rows, values, examples = [], {}, {}
    for strength in cfg.strengths:
        y = data.perturb_sketches(test.images, strength, cfg.seed)
        sketches = data.split(y)[0]
        t0 = time.perf_counter()
        photos = {"contextual_gan": data.split(complete_images(models.G, models.D, y, project_cfg, cfg.seed, cfg.batch_size, device)[0])[1]}
        seconds = {"contextual_gan": time.perf_counter() - t0}
        t0 = time.perf_counter()
        photos["pix2pix"] = data.to_image(pix2pix.translate(models.G_pix2pix, data.to_tensor(sketches, device=device)))
        seconds["pix2pix"] = time.perf_counter() - t0
        photos["real_photo"], seconds["real_photo"] = truth, 0.0
        photos["shuffled_sketch"], seconds["shuffled_sketch"] = photos["contextual_gan"][other], 0.0
        photos["constant_answer"], seconds["constant_answer"] = constant, 0.0
        for method in METHODS:
            # a shuffled answer came from face i − 1's sketch: its fidelity is measured against that sketch
            drawn = (sketches[other], [styles[j] for j in other]) if method == "shuffled_sketch" else (sketches, styles)
            values[method, strength] = per_face(models.classifier, photos[method], truth, labels, *drawn)
            numbers = score(values[method, strength], ref)
            rows.append({"method": method, "strength": strength, **numbers, "seconds": round(seconds[method], 2)})
        examples[strength] = {"sketch": sketches[: cfg.examples], **{m: p[: cfg.examples] for m, p in photos.items()}}
    settings = {"eval": asdict(cfg), "completion": asdict(project_cfg), "data": test.source, "n": len(test)}
    return Evaluation(rows, values, ref, examples, settings)


# ---------------------------------------------------------------- outputs
def _fmt(value: float, digits: int = 3) -> str:
    return "∞" if value == math.inf else f"{value:.{digits}f}"


TABLE_NOTE = """
SSIM: the mean over the faces and its 95 % bootstrap interval. real_photo: the true photos (∞: the
real photo against itself has no error, so its PSNR is infinite, null in results.json).
shuffled_sketch: Contextual GAN's photo of face i − 1's sketch scored against face i (the same
photos as contextual_gan, so the same FD). constant_answer: the mean reference photo for every sketch.
"""


def markdown_table(rows: list[dict]) -> str:
    """The results as a Markdown table, one line per method and strength."""
    lines = ["| method | strength | " + " | ".join(HEADERS[c] for c in COLUMNS) + " |", "|---|---:|" + "---:|" * len(COLUMNS)]
    for r in rows:
        cells = [_fmt(r[c], 2 if c in ("psnr", "realism_fd") else 3) for c in COLUMNS]
        cells[0] += f" [{r['ssim_low']:.3f}, {r['ssim_high']:.3f}]"
        lines.append(f"| {r['method']} | {r['strength']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    keys = list(rows[0])
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows(rows)


def robustness_figure(rows: list[dict]):
    """robustness.png: each number against the perturbation strength, one line per method."""
    from matplotlib.figure import Figure  # no pyplot: works headless, and displays in a notebook

    fig = Figure(figsize=(3.0 * len(COLUMNS), 2.8), layout="tight")
    axes = fig.subplots(1, len(COLUMNS))
    style = {"contextual_gan": dict(marker="o"), "pix2pix": dict(marker="s"), "real_photo": dict(color="gray", ls="--"),
             "shuffled_sketch": dict(marker="o", ls=":", color="tab:blue", alpha=0.6), "constant_answer": dict(color="gray", ls=":")}
    for ax, column in zip(axes, COLUMNS):
        for method in METHODS:
            points = [(r["strength"], r[column]) for r in rows if r["method"] == method and math.isfinite(r[column])]
            if points and not (method == "real_photo" and column in ("ssim", "psnr")):
                ax.plot(*zip(*points), label=method.replace("_", " "), **style[method])
        ax.set_title(HEADERS[column], fontsize=9)
        ax.set_xlabel("perturbation strength", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[COLUMNS.index("attributes")].legend(fontsize=7)  # the panel that has all three lines
    return fig


def example_grid(examples: dict[float, dict[str, np.ndarray]]) -> np.ndarray:
    """One uint8 image: a row per face; per strength the columns sketch | Contextual GAN | pix2pix; then the true photo."""
    strengths = list(examples)
    first = examples[strengths[0]]
    cells = []
    for i in range(len(first["sketch"])):
        for s in strengths:
            cells += [examples[s]["sketch"][i], examples[s]["contextual_gan"][i], examples[s]["pix2pix"][i]]
        cells.append(first["real_photo"][i])
    return grid(np.stack(cells), ncol=3 * len(strengths) + 1)


def examples_figure(examples: dict[float, dict[str, np.ndarray]]):
    """examples.png: :func:`example_grid` with a title naming its columns."""
    from matplotlib.figure import Figure

    table = example_grid(examples)
    fig = Figure(figsize=(table.shape[1] / 40, table.shape[0] / 40 + 0.4), dpi=100)
    ax = fig.add_axes([0, 0, 1, table.shape[0] / (table.shape[0] + 16)])
    ax.imshow(table, interpolation="nearest")
    ax.axis("off")
    columns = "   ".join(f"strength {s:g}: sketch | C-GAN | pix2pix" for s in examples)
    fig.suptitle(columns + "   true photo", fontsize=7, y=0.995)
    return fig


def write(result: Evaluation, out: str | Path) -> dict[str, Path]:
    """Write results.csv, results.md, results.json, robustness.png and examples.png into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("results.csv", "results.md", "results.json", "robustness.png", "examples.png")}
    write_csv(result.rows, paths["results.csv"])
    with atomic_path(paths["results.md"]) as tmp:
        tmp.write_text(markdown_table(result.rows) + TABLE_NOTE)
    with atomic_path(paths["results.json"]) as tmp:
        tmp.write_text(to_json({"rows": result.rows, "settings": result.settings}, default=str))
    save_figure(robustness_figure(result.rows), paths["robustness.png"])
    save_figure(examples_figure(result.examples), paths["examples.png"])
    return paths


def run(checkpoint, baseline, out, cfg: EvalConfig = EvalConfig(), project_cfg: ProjectConfig = ProjectConfig(iters=200),
        classifier=None, data_path=None, device="auto") -> Evaluation:
    """Load, evaluate and write everything: the ``evaluate`` command."""
    check_output_folder(out)  # before the compute, not after
    result = evaluate(load(checkpoint, baseline, classifier, pick_device(device)), cfg, project_cfg, data_path)
    result.settings.update(checkpoint=str(checkpoint), baseline=str(baseline), classifier=str(classifier or attributes.PRETRAINED))
    write(result, out)
    return result
