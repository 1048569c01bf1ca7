"""The benchmark scripts run, at sizes that take seconds; what they measure is not checked here
(times belong in the benchmarks' output and the README), only what must hold on any machine."""

import copy
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from cgan_minimal import data

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    return _load("reference")


def test_the_reference_loop_does_more_work_than_the_library_step(reference):
    lib = reference.library("r1_mbstd", "tiny")
    real = data.to_tensor(data.faces_dataset(8, size=32).images)
    ref = reference.Reference(copy.deepcopy(lib.G), copy.deepcopy(lib.D), lib.model_cfg.nz, r1_gamma=1.0, r1_every=16, ema_decay=0.999)
    flops = {}
    for name, step in (("library", lib.step), ("reference", ref.step)):
        with reference.CountFlops() as count:
            step(real)  # the first step of each is an R1 step
        flops[name] = count.flops
    assert 0 < flops["library"] < flops["reference"]  # D's weight gradients in the G step: only the reference computes them
    assert len(ref.log) == 1 and all(torch.isfinite(torch.tensor(ref.log[0])))
    assert reference.matmul_peak(n=64, repeat=2) > 0


@pytest.mark.parametrize("name, args", [
    ("early_stop", ["--n", "3", "--iters", "6", "--tols", "0.5", "--patience", "2"]),
    ("folder_cache", ["--n", "12", "--size", "16", "--repeat", "1"]),
])
def test_benchmark_scripts_run(name, args, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [name, *args])
    _load(name).main()
    out = capsys.readouterr().out
    assert ("| tol 0.5 |" in out) if name == "early_stop" else ("faster from the cache" in out)


def test_the_gpu_check_runs_on_cpu(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["gpu_check", "--device", "cpu", "--quick", "--out", str(tmp_path)])
    _load("gpu_check").main()
    out = capsys.readouterr().out
    for row in ("| training step, fp32 |", "| training step, bf16 autocast |", "| completion, 8 sketches, fp32 |", "| one epoch, 64 faces"):
        assert row in out
    assert (tmp_path / "gpu_check.md").read_text().count("\n| ") == 6  # the header, its rule, four rows
    assert (tmp_path / "samples_epoch_1.png").stat().st_size > 0
