"""Command line: ``python -m cgan_minimal COMMAND`` (also the ``cgan-minimal`` script).

    train             train G and D on joint images (the embedded faces or a folder of joint PNGs);
                      ``--model pix2pix`` trains the baseline instead
    complete          complete held-out sketches with a trained model; write completions.png, metrics.json;
                      ``--sketch drawing.png …`` completes your own drawings instead (data.prepare_drawing
                      makes each a sketch like the training ones; NAME_completion.png shows the best
                      ``--top-k`` of as many random starts)
    demo              train the cpu preset on the embedded faces, then complete; the README's main job
    export            write the small model file (config, D, EMA generator; float16) that completion needs
    evaluate          Contextual GAN vs pix2pix on clean and perturbed sketches: table and robustness curves
    train-classifier  train the attribute classifier that evaluate scores photos with
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from . import attributes, data, evaluate, metrics
from .evaluate import EvalConfig
from .figures import grid, save_completions, save_png
from .models import D_NORMS, PRESETS, preset
from .project import CONTEXTUAL_LOSSES, ProjectConfig, complete_images
from .train import (
    LOSS_FIELDS, LOSSES, MODELS, PRECISIONS, RECIPES, TrainConfig, default_classifier, export, load_held_out_data, load_models, load_training_data,
    prepare_run_folder, read_checkpoint, read_losses, train,
)
from .utils import atomic_path, check_output_file, check_output_folder, pick_device, set_seed, to_json

DEFAULT_TRAIN = TrainConfig()
DEFAULT_PROJECT = ProjectConfig()
DEFAULT_EVAL = EvalConfig()
FACE_CLASSES = {attributes.FACE_ATTRIBUTES: attributes.ClassifierConfig().classes}


def parse_strengths(text: str) -> tuple[float, ...]:
    """``"0,0.33,0.67,1"`` → (0.0, 0.33, 0.67, 1.0), with a clear error for anything else."""
    try:
        return tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--strengths must be comma-separated numbers, got {text!r}") from None


def run_completion(
    checkpoint: str | Path, out: str | Path, n: int = 64, cfg: ProjectConfig = DEFAULT_PROJECT,
    data_path: str | None = None, seed: int = 0, batch_size: int = 64, device: str = "auto",
    preset_name: str | None = None, train_set: data.JointData | None = None, style: str | None = None,
    with_baselines: bool = True, classifier: str | None = None,
) -> dict:
    """Complete ``n`` held-out sketches, write ``out/completions.png`` and ``out/metrics.json``.

    Returns the metrics: mean SSIM of the completed photos and of the two baselines.
    ``preset_name`` makes sure the checkpoint is of that preset; ``train_set`` saves re-reading
    the training data for the baselines; ``style`` draws the held-out faces' sketches in another
    style than the model was trained on; ``with_baselines=False`` skips the two baselines (which
    need the training set). For sketch → photo, ``completion_quality`` (diversity, nearest-own
    rate, attributes kept; :func:`metrics.completion_quality`) is read by ``classifier``, by
    default the shipped one for the embedded faces.
    """
    cfg.validate()
    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    dev = pick_device(device)
    out = check_output_folder(out)
    G, D, model_cfg, train_cfg = load_models(checkpoint, dev, expected=preset(preset_name) if preset_name else None)
    test = load_held_out_data(train_cfg, model_cfg.size, n, data_path, style)
    set_seed(seed)
    start = time.perf_counter()
    completed, history, steps = complete_images(G, D, test.images, cfg, seed, batch_size, dev, with_steps=True)
    seconds = time.perf_counter() - start
    known_half, unknown_half = (0, 1) if cfg.known == "sketch" else (1, 0)
    truth = data.split(test.images)[unknown_half]
    scores = metrics.ssim(data.split(completed)[unknown_half], truth)
    base = {}
    if with_baselines:
        train_set = train_set if train_set is not None else load_training_data(train_cfg, model_cfg.size)
        if cfg.known == "photo":  # baselines in the other direction: swap the halves
            test_b, train_b = data.join(*data.split(test.images)[::-1]), data.join(*data.split(train_set.images)[::-1])
        else:
            test_b, train_b = test.images, train_set.images
        base = metrics.baselines(test_b, train_b)
    if cfg.known == "sketch":
        clf = attributes.load(classifier) if classifier else default_classifier(train_cfg)
        labels = None  # true classes from the data's labels where it has them all, else the classifier reads the true photos
        if clf is not None and all(a in attributes.class_labels_available(test) for a in clf.cfg.attributes):
            labels = attributes.class_labels(test, clf.cfg.attributes)
        base["completion_quality"] = metrics.completion_quality(data.split(completed)[1], truth, labels, clf)
    result = {
        "ssim": float(scores.mean()),
        **base,
        "n": len(test),
        "seconds": round(seconds, 2),
        "evaluated_half": "photo" if cfg.known == "sketch" else "sketch",
        "contextual_loss_start": float(history[0].mean()),
        "contextual_loss_end": float(history[1].mean()),
        **({"steps_mean": float(steps.float().mean())} if cfg.early_stop_tol else {}),
        "ssim_per_sketch": [round(float(s), 4) for s in scores],
        "checkpoint": str(checkpoint),
        "data": test.source,
        "settings": asdict(cfg),
    }
    out.mkdir(parents=True, exist_ok=True)
    given = data.split(test.images)[known_half]
    title = f"{cfg.known} → {'photo' if cfg.known == 'sketch' else 'sketch'}: SSIM {result['ssim']:.3f}"
    save_completions(out / "completions.png", given, data.split(completed)[unknown_half], truth, title=title)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(to_json(result))
    return result


def complete_drawings(
    checkpoint: str | Path, drawings: list[str | Path], out: str | Path, cfg: ProjectConfig = DEFAULT_PROJECT, top_k: int = 4,
    seed: int = 0, device: str = "auto", preset_name: str | None = None, style: str | None = None,
) -> dict:
    """Complete your own drawings: for each, ``top_k`` random starts, ranked by their final contextual loss.

    Each file is read with :func:`data.read_image` and made into a sketch like the training ones by
    :func:`data.prepare_drawing` (in the model's sketch style, or ``style``); all files are checked
    before any compute, and the bad ones are named in one ValueError. ``out/NAME_completion.png``
    shows the sketch and the ``top_k`` completed photos, best first; ``out/metrics.json`` holds the
    contextual loss of every start, first and last step. The starts are ``top_k`` copies of the
    drawing completed in one batch, each with its own best-of-N start z0 (seeded by ``seed``, so a
    drawing's result does not depend on the others). Explained in "Projection through back-propagation".
    """
    cfg = cfg.validate()
    if cfg.known != "sketch":
        raise ValueError(f"--sketch completes drawings (sketch → photo); --known {cfg.known} does not apply")
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    paths = [Path(p) for p in drawings]
    names = [p.stem for p in paths]
    twice = sorted({str(p) for p in paths if names.count(p.stem) > 1})
    if twice:
        raise ValueError(f"drawings {', '.join(twice)} share a name, and NAME_completion.png would be written twice: rename one")
    dev = pick_device(device)
    out = check_output_folder(out)
    G, D, model_cfg, train_cfg = load_models(checkpoint, dev, expected=preset(preset_name) if preset_name else None)
    style = style or train_cfg.style
    data.parse_styles(style)
    joints, problems = [], []
    for p in paths:
        try:
            joints.append(data.prepare_drawing(data.read_image(p), model_cfg.size, style, where=p))  # (s, 2s, 3)
        except (ValueError, OSError) as e:
            problems.append(str(e) if isinstance(e, ValueError) else f"{p}: {e.strerror or e}")
    if problems:
        raise ValueError(f"{len(problems)} of {len(paths)} drawings cannot be completed: " + "; ".join(problems))
    set_seed(seed)
    start = time.perf_counter()
    results = []
    out.mkdir(parents=True, exist_ok=True)
    for p, joint in zip(paths, joints):
        completed, history = complete_images(G, D, np.repeat(joint[None], top_k, axis=0), cfg, seed, top_k, dev)  # (k, s, 2s, 3), (2, k)
        order = torch.argsort(history[1]).tolist()  # best (lowest final contextual loss) first
        row = np.concatenate([data.split(joint[None])[0], data.split(completed[order])[1]])  # (1 + k, s, s, 3)
        image = save_png(grid(row, ncol=len(row)), out / f"{p.stem}_completion.png", scale=4)
        results.append({
            "file": str(p),
            "image": image.name,
            "ranking": order,
            "contextual_loss_start": [round(float(v), 5) for v in history[0]],
            "contextual_loss_end": [round(float(v), 5) for v in history[1]],
            "best_contextual_loss": round(float(history[1].min()), 5),
        })
    result = {
        "drawings": results,
        "n": len(results),
        "top_k": top_k,
        "seed": seed,
        "sketch_style": style,
        "seconds": round(time.perf_counter() - start, 2),
        "checkpoint": str(checkpoint),
        "settings": asdict(cfg),
    }
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(to_json(result))
    return result


def train_command(cfg: TrainConfig, out: str) -> str:
    """The ``train`` command line that reproduces ``cfg`` (settings that differ from its recipe's defaults)."""
    args = [f"--preset {cfg.preset}", f"--recipe {cfg.recipe}", f"--train-size {cfg.train_size}", f"--epochs {cfg.epochs}", f"--seed {cfg.seed}"]
    shown = {"preset", "recipe", "train_size", "epochs", "seed", "device"}
    defaults = TrainConfig(recipe=cfg.recipe)
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        if f.name not in shown and value != getattr(defaults, f.name):
            args.append(f"--{f.name.replace('_', '-')} {value}")
    return " ".join(["python -m cgan_minimal train", *args, f"--out {out}"])


def export_with_record(checkpoint: str | Path, out: str | Path, half: bool = True) -> Path:
    """:func:`train.export` plus ``OUT.json``: the command, the training time and per-epoch mean losses."""
    if Path(out).suffix == ".json":
        raise ValueError(f"export --out {out}: the model's record is written to OUT.json, so the model cannot be a .json file; use e.g. model.pt")
    path = export(checkpoint, out, half=half)
    ckpt = read_checkpoint(path)
    cfg = TrainConfig.from_dict(ckpt["config"]["train"])
    run = Path(checkpoint) if Path(checkpoint).is_dir() else Path(checkpoint).parent
    rows = read_losses(run / "losses.csv", int(ckpt["epoch"]))
    losses = [
        {"epoch": e, **{k: round(float(np.mean([r[k] for r in rows if r["epoch"] == e])), 4) for k in LOSS_FIELDS[2:]}}
        for e in sorted({r["epoch"] for r in rows})
    ]
    record = {
        "command": train_command(cfg, str(run)),
        "config": ckpt["config"],
        "epochs": int(ckpt["epoch"]),
        "train_seconds": round(float(ckpt.get("train_seconds", 0.0)), 1),
        "losses": losses,
    }
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(to_json(record))
    return path


def train_classifier(data_spec: str, out: str | Path, cfg, train_size: int = 10000, test_data: str | None = None, test_size: int = 1000) -> dict:
    """Train the attribute classifier on the embedded faces or a labelled folder; write OUT and OUT.json.

    Held-out accuracy is measured on held-out faces, or on ``test_data`` (default: the folder's
    sibling ``test/``), and stored in the record. Returns the record.
    """
    if Path(out).suffix == ".json":
        raise ValueError(f"train-classifier --out {out}: the record is written to OUT.json, so the classifier cannot be a .json file")
    if data_spec == "faces" and train_size < 1:
        raise ValueError(f"--train-size must be >= 1 for the embedded faces, got {train_size}")
    if train_size < 0 or test_size < 1:
        raise ValueError(f"--train-size must be >= 0 (0 = all of a folder) and the test size >= 1, got {train_size}, {test_size}")
    check_output_file(out)
    t0 = time.perf_counter()
    if data_spec == "faces":
        train_set = attributes.faces_photos(train_size, cfg.size, seed=cfg.seed)
        test_set = attributes.faces_photos(test_size, cfg.size, seed=cfg.seed, start=data.HELD_OUT_START)
    else:
        train_set = attributes.folder_photos(data_spec, cfg.size, cfg.attributes, limit=train_size or None)
        test_path = Path(test_data) if test_data else Path(data_spec).parent / "test"
        if not test_path.is_dir():
            raise ValueError(f"no test folder {test_path} to measure the classifier on; pass --test-data")
        test_set = attributes.folder_photos(test_path, cfg.size, cfg.attributes, limit=test_size or None)
    model = attributes.fit(train_set.photos, train_set.labels, cfg)
    blurred = data.to_image(attributes.blur(data.to_tensor(test_set.photos), torch.ones(len(test_set.photos))))
    record = {
        "command": f"python -m cgan_minimal train-classifier --data {data_spec} --size {cfg.size} --attributes {','.join(cfg.attributes)} "
                   f"--train-size {train_size} --epochs {cfg.epochs} --blur {cfg.blur} --seed {cfg.seed} --out {out}",
        "train": train_set.source,
        "test": test_set.source,
        "n_test": len(test_set.photos),
        "held_out_accuracy": attributes.accuracy(attributes.predict(model, test_set.photos), test_set.labels),
        "held_out_accuracy_blurred": attributes.accuracy(attributes.predict(model, blurred), test_set.labels),  # σ = 1 px
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    attributes.save(model, out, record)
    return record


def summary(m: dict) -> str:
    steps = f", {m['steps_mean']:.0f} steps on average" if "steps_mean" in m else ""
    line = (
        f"completed {m['n']} sketches in {m['seconds']:.1f} s{steps}: SSIM {m['ssim']:.3f} "
        f"(nearest neighbour {m['ssim_nearest_neighbour']:.3f}, mean photo {m['ssim_mean_photo']:.3f})"
    )
    q = m.get("completion_quality")
    if q:
        line += f"\ncompletions: diversity {q['diversity']:.2f}, nearest their own photo {q['nearest_own']:.2f}"
        kept = {k: a["kept"] for k, a in q.get("attributes", {}).items() if a.get("kept") is not None}
        line += "".join(f", {k} kept {v:.2f}" for k, v in kept.items())
        if "hair_style" in q.get("attributes", {}):
            line += f", hair style agrees {q['attributes']['hair_style']['agreement']:.2f}"
    return line


# ---------------------------------------------------------------- argument parsing
def _add_train_args(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    p.add_argument("--preset", choices=list(PRESETS), default=defaults.preset, help="model size (default %(default)s)")
    p.add_argument("--train-size", type=int, default=defaults.train_size, help="training images (default %(default)s)")
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="epochs (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="batch size (default %(default)s)")
    p.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate (default %(default)s)")
    p.add_argument("--ema-decay", type=float, default=defaults.ema_decay, help="EMA of G's weights, 0 = off (default %(default)s)")
    p.add_argument("--instance-noise", type=float, default=defaults.instance_noise, help="D input noise std, annealed to 0 (default %(default)s)")
    p.add_argument("--real-label", type=float, default=defaults.real_label, help="real target in D's loss (default %(default)s)")
    p.add_argument("--g-steps", type=int, default=defaults.g_steps, help="G steps per D step (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    p.add_argument("--device", default=defaults.device, help="auto, cpu, cuda, mps (default %(default)s)")
    p.add_argument("--precision", choices=list(PRECISIONS), default=defaults.precision,
                   help="auto: bf16 autocast on CUDA (fp16 with loss scaling where bf16 is missing), fp32 elsewhere (default %(default)s)")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D for the training step (worth it on a GPU)")
    p.add_argument("--style", default=defaults.style, help="sketch style of the embedded faces: xdog, photocopy, fdog or a mix such as xdog,fdog (default %(default)s)")
    p.add_argument("--eval-every", type=int, default=0, help="measure sample quality every k epochs (always after the last; default: last only)")
    p.add_argument("--classifier", default=None, help="attribute classifier for the sample quality (default: the shipped one for the embedded faces)")
    r = p.add_argument_group("recipe", "the training recipe; each option below overrides the recipe's value")
    r.add_argument("--recipe", choices=list(RECIPES), default=defaults.recipe,
                   help="dcgan: the paper's DCGAN; r1: DCGAN + lazy R1 on real images; r1_mbstd: r1 + a minibatch std layer in D (default %(default)s)")
    r.add_argument("--loss", choices=list(LOSSES), default=None, help="nonsat (BCE, the paper) or hinge")
    r.add_argument("--r1-gamma", type=float, default=None, help="γ of the R1 penalty on real images, 0 = off")
    r.add_argument("--r1-every", type=int, default=None, help="apply R1 every k D steps (lazy regularisation)")
    r.add_argument("--lr-D-mult", type=float, default=None, help="D's learning rate = lr × this (two time-scale rule)")
    r.add_argument("--d-norm", choices=list(D_NORMS), default=None, help="D's normalisation: bn (paper), sn, sn+bn, none")
    r.add_argument("--mbstd", type=int, default=None, help="group size of D's minibatch standard-deviation layer, 0 = none")
    r.add_argument("--augment", default=None, help="DiffAugment on D's inputs: a mix of translation,cutout,color; '' = none")


def _add_complete_args(p: argparse.ArgumentParser, n: int) -> None:
    d = DEFAULT_PROJECT
    p.add_argument("--n", type=int, default=n, help="held-out sketches to complete (default %(default)s)")
    p.add_argument("--iters", type=int, default=d.iters, help="gradient steps on z (default %(default)s)")
    p.add_argument("--lam", type=float, default=d.lam, help="λ, weight of the perceptual loss (default %(default)s)")
    p.add_argument("--init-candidates", type=int, default=d.init_candidates, help="N of best-of-N init (default %(default)s)")
    p.add_argument("--z-lr", type=float, default=d.lr, help="step size on z (default %(default)s)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=d.optimizer, help="z update (default %(default)s)")
    p.add_argument("--contextual", choices=CONTEXTUAL_LOSSES, default=d.contextual, help="contextual loss (default %(default)s)")
    p.add_argument("--perceptual", choices=["paper", "nonsat"], default=d.perceptual, help="perceptual loss (default %(default)s)")
    p.add_argument("--known", choices=["sketch", "photo"], default=d.known, help="the given half (default %(default)s)")
    p.add_argument("--complete-seed", type=int, default=0, help="seed of the initial z (default %(default)s)")
    p.add_argument("--early-stop", type=float, default=d.early_stop_tol, metavar="TOL",
                   help="stop each sketch once its loss has not improved by this fraction for --early-stop-patience steps; 0 = off (default %(default)s)")
    p.add_argument("--early-stop-patience", type=int, default=d.early_stop_patience, metavar="K",
                   help="steps without an improvement before a sketch stops (default %(default)s)")


def _project_cfg(a: argparse.Namespace) -> ProjectConfig:
    return ProjectConfig(
        lam=a.lam, iters=a.iters, init_candidates=a.init_candidates, lr=a.z_lr, optimizer=a.optimizer,
        contextual=a.contextual, perceptual=a.perceptual, known=a.known,
        early_stop_tol=a.early_stop, early_stop_patience=a.early_stop_patience,
    ).validate()


def _train_cfg(a: argparse.Namespace, data_spec: str) -> TrainConfig:
    """TrainConfig from the options: the recipe's fields, then every option given on the command line."""
    names = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in vars(a).items() if k in names and k != "data" and v is not None}
    return TrainConfig(**given, data=data_spec).validate()


# Demo defaults: sized so that training plus completing 64 sketches fits in about 10 minutes on 2 CPU cores.
DEMO = {"preset": "cpu", "epochs": DEFAULT_TRAIN.epochs, "train_size": DEFAULT_TRAIN.train_size, "n": 64, "iters": 200}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cgan_minimal", description="Contextual GAN: sketch → photo by image completion.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train G and D on joint images")
    p.add_argument("--data", default="faces", help="'faces' (embedded) or a folder of joint PNGs (default %(default)s)")
    p.add_argument("--out", required=True, help="run folder (checkpoint, samples, losses)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--overwrite", action="store_true", help="replace the run in OUT (its checkpoint, losses, samples) instead of refusing")
    p.add_argument("--init-from", default="", help="start from a trained checkpoint (fine-tuning, e.g. on another style with --lr 1e-5)")
    p.add_argument("--model", choices=list(MODELS), default=DEFAULT_TRAIN.model, help="contextual (Contextual GAN) or pix2pix (the baseline) (default %(default)s)")
    p.add_argument("--l1-weight", type=float, default=DEFAULT_TRAIN.l1_weight, help="pix2pix only: weight of the L1 term (default %(default)s)")
    _add_train_args(p, DEFAULT_TRAIN)

    p = sub.add_parser("complete", help="complete held-out sketches, or your own drawings (--sketch), with a trained model")
    p.add_argument("--checkpoint", required=True, help="a run folder or a checkpoint file")
    p.add_argument("--data", default=None, help="test images: 'faces' or a folder (default: held out from the training data)")
    p.add_argument("--out", required=True, help="folder for completions.png (with --sketch: NAME_completion.png) and metrics.json")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default %(default)s)")
    p.add_argument("--preset", choices=list(PRESETS), default=None, help="refuse a checkpoint of another preset")
    p.add_argument("--style", default=None, help="sketch style of the held-out faces, or the one --sketch drawings are made like (default: the model's own)")
    p.add_argument("--sketch", nargs="+", default=None, metavar="PNG",
                   help="complete your own drawings (any size, dark on light or light on dark) instead of held-out sketches")
    p.add_argument("--top-k", type=int, default=4, help="with --sketch: random starts per drawing, shown best first (default %(default)s)")
    _add_complete_args(p, n=64)

    p = sub.add_parser("export", help="write the small model file that completion needs (float16)")
    p.add_argument("--checkpoint", required=True, help="a run folder or a checkpoint file")
    p.add_argument("--out", required=True, help="the model file to write, e.g. faces_xdog.pt")
    p.add_argument("--full-precision", action="store_true", help="keep float32 weights")

    p = sub.add_parser("evaluate", help="Contextual GAN vs pix2pix on clean and perturbed sketches: a table and robustness curves")
    p.add_argument("--checkpoint", required=True, help="the Contextual GAN model (run folder or file)")
    p.add_argument("--baseline", required=True, help="the pix2pix model trained on the same data (train --model pix2pix)")
    p.add_argument("--out", required=True, help="folder for results.csv, results.md, results.json, robustness.png, examples.png")
    p.add_argument("--classifier", default=None, help="attribute classifier (default: the shipped one for the embedded faces)")
    p.add_argument("--data", default=None, help="test images: a folder (default: held out from the training data)")
    p.add_argument("--strengths", default=",".join(f"{s:g}" for s in DEFAULT_EVAL.strengths), help="perturbation strengths, 0 = clean (default %(default)s)")
    p.add_argument("--reference", type=int, default=DEFAULT_EVAL.reference, help="real photos for the Fréchet distance (default %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default %(default)s)")
    _add_complete_args(p, n=DEFAULT_EVAL.n)
    p.set_defaults(iters=200)

    d = attributes.ClassifierConfig()
    p = sub.add_parser("train-classifier", help="train the attribute classifier that evaluate uses")
    p.add_argument("--data", default="faces", help="'faces' (embedded) or a folder of joint PNGs with labels.csv (default %(default)s)")
    p.add_argument("--out", required=True, help="the classifier file to write, e.g. attributes.pt (and its .json record)")
    p.add_argument("--test-data", default=None, help="labelled folder to measure accuracy on (default: the sibling test/)")
    p.add_argument("--size", type=int, default=d.size, help="photo side in pixels (default %(default)s)")
    p.add_argument("--attributes", default=",".join(d.attributes), help="labels to predict; for CelebA e.g. Eyeglasses,No_Beard,Smiling,Male (default %(default)s)")
    p.add_argument("--train-size", type=int, default=10000, help="training photos, 0 = all of a folder (default %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs (default %(default)s)")
    p.add_argument("--blur", type=float, default=d.blur, help="blur augmentation: max σ in pixels, 0 = off (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")

    p = sub.add_parser("demo", help="train the cpu preset on the embedded faces, then complete held-out sketches")
    p.add_argument("--out", required=True, help="output folder (the run goes to OUT/run)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo in OUT instead of refusing")
    _add_train_args(p, TrainConfig(preset=DEMO["preset"], epochs=DEMO["epochs"], train_size=DEMO["train_size"]))
    _add_complete_args(p, n=DEMO["n"])
    p.set_defaults(iters=DEMO["iters"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            cfg = _train_cfg(args, args.data)
            t0 = time.perf_counter()
            trainer = train(cfg, args.out, resume=args.resume, eval_every=args.eval_every, classifier=args.classifier, overwrite=args.overwrite)
            if trainer.world.main:  # under torchrun, process 0 speaks for all
                print(f"trained {trainer.epochs_run} epochs in {time.perf_counter() - t0:.0f} s ({trainer.epoch} in all); "
                      f"checkpoint in {Path(args.out) / 'checkpoint.pt'}")
        elif args.command == "complete" and args.sketch:
            if args.data is not None or args.n != 64:  # 64: the parser's default --n
                raise ValueError("--sketch completes your drawings; --data and --n choose held-out sketches: give one or the other")
            m = complete_drawings(args.checkpoint, args.sketch, args.out, _project_cfg(args), args.top_k, args.complete_seed,
                                  device=args.device, preset_name=args.preset, style=args.style)
            print(f"completed {m['n']} drawings, {m['top_k']} starts each, in {m['seconds']:.1f} s; final contextual loss, best first:")
            for d in m["drawings"]:
                print(f"  {d['file']}: " + ", ".join(f"{d['contextual_loss_end'][i]:.3f}" for i in d["ranking"]))
            print(f"wrote {', '.join(d['image'] for d in m['drawings'])} and metrics.json to {args.out}")
        elif args.command == "complete":
            m = run_completion(args.checkpoint, args.out, args.n, _project_cfg(args), args.data, args.complete_seed,
                               device=args.device, preset_name=args.preset, style=args.style)
            print(summary(m))
            print(f"wrote {Path(args.out) / 'completions.png'} and {Path(args.out) / 'metrics.json'}")
        elif args.command == "export":
            path = export_with_record(args.checkpoint, args.out, half=not args.full_precision)
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        elif args.command == "evaluate":
            ecfg = EvalConfig(n=args.n, strengths=parse_strengths(args.strengths), reference=args.reference, seed=args.complete_seed)
            result = evaluate.run(args.checkpoint, args.baseline, args.out, ecfg, _project_cfg(args), args.classifier, args.data, args.device)
            print(evaluate.markdown_table(result.rows), end="")
            print(f"wrote results.csv, results.md, results.json, robustness.png and examples.png to {args.out}")
        elif args.command == "train-classifier":
            attrs = tuple(a.strip() for a in args.attributes.split(",") if a.strip())
            classes = FACE_CLASSES.get(attrs) or (2,) * len(attrs)  # a folder's labels are binary (CelebA)
            ccfg = attributes.ClassifierConfig(size=args.size, attributes=attrs, classes=classes, epochs=args.epochs, blur=args.blur, seed=args.seed)
            record = train_classifier(args.data, args.out, ccfg, args.train_size, args.test_data)
            accuracy = ", ".join(f"{k} {v:.3f}" for k, v in record["held_out_accuracy"].items())
            print(f"wrote {args.out}: held-out accuracy {accuracy} ({record['n_test']} photos)")
        elif args.command == "demo":
            pcfg = _project_cfg(args)
            if args.n < 1:
                raise ValueError(f"--n must be >= 1, got {args.n}")
            cfg = _train_cfg(args, "faces")
            out = check_output_folder(args.out)
            prepare_run_folder(out / "run", resume=False, overwrite=args.overwrite)  # refuse an earlier demo before any work
            t0 = time.perf_counter()
            train_set = load_training_data(cfg, preset(cfg.preset).size)
            train(cfg, out / "run", dataset=train_set, eval_every=args.eval_every, classifier=args.classifier, overwrite=args.overwrite)
            t_train = time.perf_counter() - t0
            m = run_completion(out / "run", out, args.n, pcfg, None, args.complete_seed, device=args.device, train_set=train_set)
            print(f"trained {cfg.epochs} epochs on {cfg.train_size} faces in {t_train:.0f} s")
            print(summary(m))
            print(f"wrote {out / 'completions.png'} and {out / 'metrics.json'} (total {time.perf_counter() - t0:.0f} s)")
    except (ValueError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a missing input, a read-only or full disk, a path under a file…
        where = f": {e.filename}" if e.filename and str(e.filename) not in str(e.strerror) else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    return 0
