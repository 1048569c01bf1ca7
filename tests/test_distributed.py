"""Training with torchrun: 2 CPU processes (gloo) against one process on the same global batch.

At a learning rate of 1e-7 the updates are too small to amplify rounding, so the per-step
losses of the two runs agree to float precision: that checks the sharding of the batch and of z,
the global BatchNorm, the minibatch-std groups, R1's double backward through them and DDP's
gradient average. At the default 2e-4 they drift apart by about 1e-3 within a few steps: Adam's
first updates move every weight by about lr·sign(g), and a weight whose gradient is near 0
gets the sign that rounding gives it (the numbers are in the README, "Several processes").
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cgan_minimal import distributed
from cgan_minimal.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
ARGS = dict(preset="tiny", train_size=64, batch_size=16, lr=1e-7, seed=0)  # 4 steps an epoch; r1_mbstd: groups of 4
FIELDS = ("loss_D", "loss_G", "D_x", "D_G_z")


def _losses(run: Path) -> np.ndarray:
    with open(run / "losses.csv") as f:
        return np.array([[float(r[k]) for k in FIELDS] for r in csv.DictReader(f)])


def _torchrun(out: Path, epochs: int, *extra: str) -> subprocess.CompletedProcess:
    cli = [f"--{k.replace('_', '-')}={v}" for k, v in ARGS.items()]
    env = {**os.environ, "PROBE_ROOT": str(out), "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", str(ROOT / "tests" / "ddp_probe.py"),
           "train", *cli, f"--epochs={epochs}", "--device=cpu", f"--out={out}", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process, 2 epochs; 2 processes, 1 epoch, then resumed for the second."""
    root = tmp_path_factory.mktemp("ddp")
    train(TrainConfig(**ARGS, epochs=2, device="cpu"), root / "single", progress=False, quality_samples=0)
    first = _torchrun(root / "one" / "run", 1)
    assert first.returncode == 0, first.stderr[-3000:]
    files_after_first = sorted(p.relative_to(root / "one" / "run") for p in (root / "one" / "run").rglob("*"))
    writes_first = (root / "one" / "writes_rank1.txt").read_text()
    second = _torchrun(root / "one" / "run", 2, "--resume")
    assert second.returncode == 0, second.stderr[-3000:]
    return root, first, second, files_after_first, writes_first


def test_two_processes_give_the_single_process_losses(runs):
    root, first, second, *_ = runs
    single, double = _losses(root / "single"), _losses(root / "one" / "run")
    assert single.shape == double.shape == (8, 4)  # 2 epochs of 4 steps, the second one resumed
    np.testing.assert_allclose(double, single, rtol=1e-5, atol=1e-6)
    assert "trained 1 epochs" in first.stdout and first.stdout.count("trained") == 1  # process 0 alone prints
    assert "trained 1 epochs in" in second.stdout and "(2 in all)" in second.stdout


def test_only_process_0_writes(runs):
    root, _, _, files, writes_first = runs
    assert writes_first == "", f"process 1 wrote: {writes_first}"
    assert (root / "one" / "writes_rank1.txt").read_text() == ""  # after the resumed run too
    assert {str(p) for p in files} >= {"checkpoint.pt", "config.json", "losses.csv", "metrics.json", "samples/epoch_001.png"}
    assert not [p for p in files if p.name.startswith(".")]  # no temporary left behind


def test_shard_keeps_the_minibatch_std_groups():
    batch = torch.arange(16)
    shares = [distributed.shard(batch, distributed.World(r, 2), group=4) for r in range(2)]
    assert torch.equal(torch.sort(torch.cat(shares)).values, batch)  # every image once
    groups = lambda x, g: {tuple(sorted(c.tolist())) for c in x.view(g, -1).T}  # noqa: E731, group j: x[j], x[j + B/g], …
    assert groups(shares[0], 4) | groups(shares[1], 4) == groups(batch, 4)
    assert torch.equal(distributed.shard(batch, distributed.World(1, 2)), batch[8:])  # no groups: contiguous halves


def test_a_batch_that_does_not_split_is_refused():
    with pytest.raises(ValueError, match="--batch-size 18 must be a multiple of 8"):
        distributed.check_batch(18, distributed.World(0, 2), group=4)
    distributed.check_batch(16, distributed.World(0, 2), group=4)
