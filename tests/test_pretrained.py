"""The models shipped in cgan_minimal/pretrained/: loadable, small, and still reaching their metrics."""

import json

import pytest

from cgan_minimal import models, train
from cgan_minimal.cli import run_completion
from cgan_minimal.project import ProjectConfig

SHIPPED = sorted(p.stem for p in train.PRETRAINED.glob("*.pt"))


def test_the_book_models_are_shipped():
    assert {"faces_xdog", "faces_multistyle"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_is_small_and_documented(name):
    path = train.pretrained(name)
    assert path.stat().st_size < 20e6
    G, D, model_cfg, train_cfg = train.load_models(path, expected=models.preset("cpu"))
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["command"].startswith("python -m cgan_minimal train --preset cpu")
    assert record["epochs"] == train_cfg.epochs and len(record["losses"]) >= 1
    assert name in (train.PRETRAINED / "README.md").read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_metrics(name, tmp_path):
    saved = json.loads((train.PRETRAINED / name / "metrics.json").read_text())
    settings = {k: v for k, v in saved["settings"].items() if k in ProjectConfig.__dataclass_fields__}
    m = run_completion(train.pretrained(name), tmp_path, n=saved["n"], cfg=ProjectConfig(**settings),
                       device="cpu", with_baselines=False)
    assert m["data"] == saved["data"]
    assert m["ssim"] == pytest.approx(saved["ssim"], abs=0.01)
    assert m["contextual_loss_end"] == pytest.approx(saved["contextual_loss_end"], rel=0.02)
    assert saved["ssim"] > saved["ssim_mean_photo"]  # what the README and the book claim
