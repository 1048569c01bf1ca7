"""The GPU numbers in one go (under 5 minutes on one GPU): run it where a GPU is at hand.

1. The training step of the ``paper`` preset (64×128, batch 64, the default recipe), in images
   per second: fp32 against mixed precision (``--precision auto``: bf16, or fp16 with loss
   scaling where bf16 is missing), and mixed precision with ``torch.compile``.
2. Completion throughput: 64 sketches projected together, in sketch-steps per second (fp32).
3. One epoch of 10,000 embedded faces at 64×128 in mixed precision, with its samples written
   to ``OUT/samples_epoch_1.png``.

Every row is measured in this run; the table goes to the terminal and ``OUT/gpu_check.md``.

    python benchmarks/gpu_check.py                          # on a GPU (--device cuda)
    python benchmarks/gpu_check.py --device cpu --quick     # seconds, small sizes, no compile (CI runs this)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cgan_minimal import data, project
from cgan_minimal.figures import grid, save_png
from cgan_minimal.models import sample_z
from cgan_minimal.train import Trainer, TrainConfig, autocast_dtype
from cgan_minimal.utils import pick_device, set_seed

FULL = dict(preset="paper", batch=64, warmup=5, steps=20, n_complete=64, iters=100, epoch_faces=10_000)
QUICK = dict(preset="tiny", batch=16, warmup=1, steps=2, n_complete=8, iters=5, epoch_faces=64)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trainer(preset: str, batch: int, device: str, precision: str, compile: bool = False) -> Trainer:
    set_seed(0)
    t = Trainer.create(TrainConfig(preset=preset, batch_size=batch, device=device, precision=precision, compile=compile))
    t.distribute(t.world)  # one process: only compiles, when asked
    t.G.train(), t.D.train()
    return t


def step_rate(t: Trainer, real: torch.Tensor, warmup: int, steps: int) -> float:
    """Training images per second over ``steps`` steps, after ``warmup`` (compilation, cuDNN tuning)."""
    for _ in range(warmup):
        t.step(real)
    sync(t.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        t.step(real)
    sync(t.device)
    return steps * len(real) / (time.perf_counter() - t0)


def completion_rate(t: Trainer, y: torch.Tensor, iters: int) -> float:
    """Sketch-steps per second of project.complete on one batch (fp32, from fixed starts)."""
    z0 = sample_z(len(y), t.model_cfg.nz, torch.Generator().manual_seed(0)).to(t.device)
    cfg = project.ProjectConfig(iters=iters)
    project.complete(t.G, t.D, y, cfg.__class__(iters=2), z0=z0)  # warm-up
    sync(t.device)
    t0 = time.perf_counter()
    project.complete(t.G, t.D, y, cfg, z0=z0)
    sync(t.device)
    return len(y) * iters / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--quick", action="store_true", help="small sizes: checks the script runs, the numbers mean little")
    p.add_argument("--no-compile", action="store_true", help="leave out the torch.compile row")
    p.add_argument("--out", default="results/gpu_check", help="folder for gpu_check.md and the samples")
    args = p.parse_args()
    s = QUICK if args.quick else FULL
    device = pick_device(args.device)
    out = Path(args.out)
    mixed = autocast_dtype("auto", device) or torch.bfloat16  # on a CPU: bf16 autocast, to exercise the path
    mixed_name = {torch.bfloat16: "bf16", torch.float16: "fp16"}[mixed]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name}; torch {torch.__version__}; preset {s['preset']}, batch {s['batch']}")

    size = trainer(s["preset"], s["batch"], args.device, "fp32").model_cfg.size
    faces = data.faces_dataset(max(s["batch"], s["n_complete"]), size=size, start=data.HELD_OUT_START)
    real = data.to_tensor(faces.images[: s["batch"]]).to(device)
    rows = []
    for label, precision, comp in (("fp32", "fp32", False), (f"{mixed_name} autocast", mixed_name, False),
                                   (f"{mixed_name} autocast + torch.compile", mixed_name, True)):
        if comp and (args.no_compile or (args.quick and device.type == "cpu")):
            print(f"training step, {label}: left out (--no-compile, or --quick on a CPU, where compiling takes a minute)")
            continue
        t = trainer(s["preset"], s["batch"], args.device, precision, comp)
        rate = step_rate(t, real, s["warmup"] + (2 if comp else 0), s["steps"])
        rows.append((f"training step, {label}", f"{rate:,.0f} images/s", f"{1000 * s['batch'] / rate:.1f} ms a step"))
        print(" | ".join(rows[-1]))
    t = trainer(s["preset"], s["batch"], args.device, "fp32")
    y = data.to_tensor(faces.images[: s["n_complete"]]).to(device)
    rate = completion_rate(t, y, s["iters"])
    rows.append((f"completion, {s['n_complete']} sketches, fp32", f"{rate:,.0f} sketch-steps/s", f"{500 / rate * 64:.1f} s for 64 sketches × 500 steps"))
    print(" | ".join(rows[-1]))

    t0 = time.perf_counter()
    train_set = data.faces_dataset(s["epoch_faces"], size=size)
    t_data = time.perf_counter() - t0
    t = trainer(s["preset"], s["batch"], args.device, mixed_name)
    images = torch.from_numpy(train_set.images)
    if device.type == "cuda":
        images = images.to(device)
    t0 = time.perf_counter()
    t.run_epoch(images, progress=False)
    sync(device)
    t_epoch = time.perf_counter() - t0
    with torch.no_grad():
        samples = data.to_image(t.samples(t.G.eval(), images).float())
    save_png(grid(samples, ncol=8), out / "samples_epoch_1.png", scale=2 if size < 64 else 1)
    rows.append((f"one epoch, {s['epoch_faces']:,} faces at {size}×{2 * size}, {mixed_name}", f"{t_epoch:.1f} s",
                 f"{s['epoch_faces'] / t_epoch:,.0f} images/s; rendering the faces took {t_data:.0f} s"))
    print(" | ".join(rows[-1]))

    table = [f"{name}; torch {torch.__version__}; preset {s['preset']}, batch {s['batch']}", "",
             "| measurement | rate | detail |", "| --- | --- | --- |", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.md").write_text("\n".join(table) + "\n")
    print("\n".join(table[2:]))
    print(f"wrote {out / 'gpu_check.md'} and {out / 'samples_epoch_1.png'}")


if __name__ == "__main__":
    main()
