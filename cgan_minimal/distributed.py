"""Training on several processes: ``torchrun --nproc-per-node N -m cgan_minimal train …``.

Data parallelism with :class:`torch.nn.parallel.DistributedDataParallel` (DDP). Every process
holds the whole G and D and the same random generator, so every process draws the same shuffled
order and the same z for the global batch of ``--batch-size`` images; process ``r`` keeps its
share of that batch (:func:`shard`). DDP averages the gradients over processes during
``backward()``; with equal shares the average of the per-process means is the mean over the
global batch, so the update is the single-process one:

    ∇θ (1/B) Σ_{i ≤ B} ℓ_i  =  (1/N) Σ_{r ≤ N} ∇θ (N/B) Σ_{i ∈ share r} ℓ_i.

Two layers look at the batch as a whole, and both are kept global:

* **BatchNorm** normalises by the mean and variance of the batch. :class:`BatchNorm2d` sums each
  process's Σx and Σx² with a differentiable all-reduce, so every process normalises by the
  global batch's statistics and the gradient flows through them (what ``torch.nn.SyncBatchNorm``
  does, which runs on GPUs only; this one also runs with the ``gloo`` backend on CPUs).
* **Minibatch standard deviation** (recipe ``r1_mbstd``) forms groups of ``g`` images j, j + B/g,
  j + 2B/g, …; :func:`shard` hands each process whole groups, laid out so the groups it forms
  from its share are the single-process groups.

Only process 0 writes checkpoints, samples, ``losses.csv`` and ``metrics.json`` and prints;
its losses are the means over all processes. Explained in the README, "Several processes".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the processes: ``rank`` of ``size``; ``local_rank`` picks its GPU."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Process 0: the one that writes files and prints."""
        return self.rank == 0


def world_from_env() -> World:
    """The world torchrun describes in ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``; one process without them."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them): {e}") from None
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"RANK {rank} must be in [0, WORLD_SIZE) and WORLD_SIZE >= 1, got WORLD_SIZE {size}")
    return World(rank, size, local_rank)


def start(world: World, device: torch.device) -> None:
    """Join the process group (NCCL between GPUs, gloo between CPUs) when there are several processes."""
    if world.size == 1 or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def stop() -> None:
    """Leave the process group (no-op for one process)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def check_batch(batch_size: int, world: World, group: int) -> None:
    """The global batch must split into equal shares of whole minibatch-std groups."""
    unit = world.size * max(group, 1)
    if batch_size % unit:
        what = f"{world.size} processes × minibatch-std groups of {group}" if group else f"{world.size} processes"
        raise ValueError(f"--batch-size {batch_size} must be a multiple of {unit} ({what}): each process takes an equal share")


def shard(batch: torch.Tensor, world: World, group: int = 0) -> torch.Tensor:
    """Process ``rank``'s share of a global batch (indices or z), shape (B/N, …).

    With minibatch-std groups of ``g`` (group j = images j, j + B/g, …), the batch is read as a
    (g, B/g) table whose column j is group j; each process takes B/(gN) whole columns, so its
    share, read back as a (g, B/(gN)) table, holds exactly the same groups. ``group=0``: the
    share is a contiguous slice.
    """
    if world.size == 1:
        return batch
    g = max(group, 1)
    table = batch.view(g, batch.shape[0] // g, *batch.shape[1:])
    k = table.shape[1] // world.size  # columns per process
    return table[:, world.rank * k : (world.rank + 1) * k].reshape(-1, *batch.shape[1:])


class _SumOverProcesses(torch.autograd.Function):
    """s = Σ_r x_r over processes; its backward is the same sum of the incoming gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _SumOverProcesses.apply(grad)  # differentiable again: R1's double backward goes through it


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training statistics are those of the global batch across all processes.

    With N processes of n = B/N images each (H·W positions per channel), for each channel:

        μ = Σ_r Σ x / (N n H W),   σ² = Σ_r Σ x² / (N n H W) − μ²,   y = γ (x − μ) / √(σ² + ε) + β,

    the sums taken by one all-reduce that autograd differentiates (its backward sums the
    gradients over processes). Under ``torch.no_grad`` or in eval mode it is plain BatchNorm, so a
    process can sample alone. The running statistics move as in ``nn.BatchNorm2d`` (unbiased σ²).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch.is_grad_enabled() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        count = x.numel() // x.shape[1] * dist.get_world_size()  # N n H W
        sums = _SumOverProcesses.apply(torch.cat([x.sum((0, 2, 3)), x.pow(2).sum((0, 2, 3))]))
        mean, mean_sq = sums.view(2, -1) / count
        var = mean_sq - mean.pow(2)
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
            self.running_mean.lerp_(mean, m)
            self.running_var.lerp_(var * count / (count - 1), m)
        scale = self.weight * torch.rsqrt(var + self.eps)  # (C,)
        return x * scale.view(1, -1, 1, 1) + (self.bias - mean * scale).view(1, -1, 1, 1)


def sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` in ``module`` by :class:`BatchNorm2d` (same parameters and buffers)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            synced = BatchNorm2d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced.to(child.weight.device))
        else:
            sync_batchnorm(child)
    return module


def mean_over_processes(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over all processes (the losses process 0 logs)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / dist.get_world_size()


def barrier() -> None:
    """Wait for every process (no-op for one)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
