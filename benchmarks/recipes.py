"""The training-recipe search of chapter "Training the GAN", side by side in one run.

Every candidate is trained with the project's own ``train`` command on the same data (the
embedded faces, ``--train-size``), for the same epochs and seeds, one thread each and
``--jobs`` at a time, so each gets the same share of the machine. Each is then measured the
same way: the sample quality of its generator (1,000 samples against 1,000 held-out photos,
read by the shipped attribute classifier; :func:`metrics.sample_quality`) and the completion
of 64 held-out sketches with the demo's settings (SSIM, attributes kept, how often a
completion is nearest to its own photo; :func:`metrics.completion_quality`). The table is
printed in Markdown and written to ``OUT/results.md`` / ``.json``.

    python benchmarks/recipes.py --epochs 6 --seeds 0 --out runs/recipes                 # every candidate
    python benchmarks/recipes.py --epochs 20 --seeds 0,1,2 --only dcgan,r1 --out runs/r20  # a few, three seeds

A run folder that already holds the asked epochs is measured, not trained again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cgan_minimal import attributes, cli, metrics, train

# name → train options, on top of the cpu preset. Every line cites what it tries.
CANDIDATES: dict[str, list[str]] = {
    "dcgan": ["--recipe", "dcgan"],  # the paper's DCGAN (SPEC §4)
    "r1": ["--recipe", "r1"],  # + lazy R1 γ 1 on real images (Mescheder et al. 2018)
    "r1_gamma0.3": ["--recipe", "r1", "--r1-gamma", "0.3"],  # a weaker R1
    "r1_mbstd": ["--recipe", "r1", "--mbstd", "4"],  # + minibatch std layer in D (Karras et al. 2018): --recipe r1_mbstd
    "r1_lrD0.5": ["--recipe", "r1", "--lr-D-mult", "0.5"],  # D at half G's learning rate (two time scales)
    "r1_sn": ["--recipe", "r1", "--d-norm", "sn"],  # spectral-norm D instead of BN (Miyato et al. 2018), BCE
    "sn_hinge": ["--recipe", "dcgan", "--d-norm", "sn", "--loss", "hinge"],  # SNGAN's D and loss
    "r1_diffaug": ["--recipe", "r1", "--augment", "translation,cutout,color"],  # DiffAugment (Zhao et al. 2020)
}


def train_one(name: str, seed: int, args) -> Path:
    run = Path(args.out) / f"{name}_seed{seed}"
    ckpt = run / train.CHECKPOINT
    if ckpt.exists() and train.read_checkpoint(ckpt)["epoch"] >= args.epochs:
        return run
    cmd = [sys.executable, "-m", "cgan_minimal", "train", "--preset", "cpu", "--train-size", str(args.train_size),
           "--epochs", str(args.epochs), "--seed", str(seed), "--out", str(run), "--resume", *CANDIDATES[name]]
    run.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(run / "train.log", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)
    return run


def measure(name: str, seed: int, run: Path, clf, n: int) -> dict:
    """Sample quality and completion quality of one trained run."""
    G, D, model_cfg, cfg = train.load_models(run)
    q = metrics.sample_quality(train.generated_photos(G, 1000), train.reference_photos(cfg, model_cfg.size, 1000), clf)
    c = cli.run_completion(run, run / "completion", n=n, cfg=cli.ProjectConfig(iters=200), seed=0, device="cpu")
    a, ca = q["attributes"], c["completion_quality"]["attributes"]
    ckpt = train.read_checkpoint(run)
    return {
        "recipe": name, "seed": seed, "epochs": int(ckpt["epoch"]), "train_seconds": round(float(ckpt["train_seconds"])),
        "fd": q["fd"], "hair_coverage": a["hair_style"]["coverage"], "hair_styles": int(np.sum(np.array(a["hair_style"]["samples"]) >= 0.02)),
        "glasses_rate": a["glasses"]["samples"][1], "beard_rate": a["beard"]["samples"][1], "diversity": q["diversity"],
        "ssim": c["ssim"], "ssim_nearest_neighbour": c["ssim_nearest_neighbour"],
        "glasses_kept": ca["glasses"]["kept"], "beard_kept": ca["beard"]["kept"], "hair_agreement": ca["hair_style"]["agreement"],
        "nearest_own": c["completion_quality"]["nearest_own"], "completion_diversity": c["completion_quality"]["diversity"],
        "data_glasses": a["glasses"]["data"][1], "data_beard": a["beard"]["data"][1],
    }


COLUMNS = [("recipe", "{}"), ("seed", "{}"), ("epochs", "{}"), ("train_seconds", "{}"), ("fd", "{:.0f}"), ("hair_coverage", "{:.2f}"),
           ("glasses_rate", "{:.2f}"), ("beard_rate", "{:.2f}"), ("diversity", "{:.2f}"), ("ssim", "{:.3f}"),
           ("glasses_kept", "{:.2f}"), ("beard_kept", "{:.2f}"), ("hair_agreement", "{:.2f}"), ("nearest_own", "{:.2f}")]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(f.format(r[c]) for c, f in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the runs and the table")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated candidates (default: all)")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once, one thread each")
    p.add_argument("--n", type=int, default=64, help="held-out sketches completed")
    args = p.parse_args(argv)
    names = [s for s in args.only.split(",") if s]
    unknown = [s for s in names if s not in CANDIDATES]
    if unknown:
        p.error(f"unknown candidate {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    jobs = [(name, int(seed)) for seed in args.seeds.split(",") for name in names]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda j: train_one(*j, args), jobs))
    clf = attributes.load()
    rows = [measure(name, seed, run, clf, args.n) for (name, seed), run in zip(jobs, runs)]
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    (out / "results.md").write_text(table(rows))
    print(table(rows), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
