"""Per-sketch early stopping in project.complete against the fixed schedule, side by side in one run.

The shipped model (cgan_minimal/pretrained/faces_xdog.pt) completes --n held-out sketches of
the embedded faces in one batch, from the same best-of-10 start z (one seed): once with the
fixed schedule (--iters steps for every sketch, as `complete --iters 200` and the shipped
model's metrics), then with early stopping at each tolerance of --tols (patience --patience):
a sketch stops after that many steps without a relative gain of tol on its best loss, and leaves
the batch. For each: wall time (best of --rounds, the settings taking turns), the steps the
sketches took, their mean final contextual loss, and the mean SSIM of the completed photos
against the true ones.

    python benchmarks/early_stop.py [--n 64] [--iters 200] [--tols 0.001,0.003,0.01] [--patience 20]
"""

from __future__ import annotations

import argparse
import time

import torch

from cgan_minimal import data, metrics, project, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(train.pretrained("faces_xdog")), help="model (default: the shipped faces_xdog.pt)")
    ap.add_argument("--n", type=int, default=64, help="sketches, completed in one batch (default %(default)s)")
    ap.add_argument("--iters", type=int, default=200, help="steps of the fixed schedule, and the most any sketch takes (default %(default)s)")
    ap.add_argument("--tols", default="0.001,0.003,0.01", help="early-stopping tolerances to measure (default %(default)s)")
    ap.add_argument("--patience", type=int, default=20, help="early-stopping patience (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=1, help="time each setting this many times, the best counts (default %(default)s)")
    a = ap.parse_args()
    G, D, model_cfg, _ = train.load_models(a.checkpoint)
    images = data.faces_dataset(a.n, size=model_cfg.size, start=data.HELD_OUT_START).images
    y, truth = data.to_tensor(images), data.split(images)[1]
    settings = {"fixed": project.ProjectConfig(iters=a.iters)}
    for tol in a.tols.split(","):
        settings[f"tol {float(tol):g}"] = project.ProjectConfig(iters=a.iters, early_stop_tol=float(tol), early_stop_patience=a.patience)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.n} sketches, {a.iters} steps at most, "
          f"patience {a.patience}, model {a.checkpoint}")
    project.complete(G, D, y[:2], iters=2)  # warm-up
    seconds, results = {k: float("inf") for k in settings}, {}
    for _ in range(a.rounds):
        for name, cfg in settings.items():
            t0 = time.perf_counter()
            results[name] = project.complete(G, D, y, cfg, generator=torch.Generator().manual_seed(0))
            seconds[name] = min(seconds[name], time.perf_counter() - t0)
    ssim = {k: float(metrics.ssim(data.split(data.to_image(r.x))[1], truth).mean()) for k, r in results.items()}
    print("| schedule | wall time | speed-up | mean steps (max) | steps saved | final contextual loss | SSIM | ΔSSIM |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        steps = r.steps.float()
        print(f"| {name} | {seconds[name]:.1f} s | {seconds['fixed'] / seconds[name]:.2f}× | {steps.mean():.0f} ({int(steps.max())}) "
              f"| {1 - steps.sum() / (a.n * a.iters):.0%} | {r.history['contextual'][-1].mean():.4f} "
              f"| {ssim[name]:.4f} | {ssim[name] - ssim['fixed']:+.4f} |")


if __name__ == "__main__":
    main()
