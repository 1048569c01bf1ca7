"""The models shipped in cgan_minimal/pretrained/: loadable, small, and still reaching their metrics."""

import json

import pytest

from cgan_minimal import attributes, data, models, pix2pix, train
from cgan_minimal.cli import run_completion
from cgan_minimal.project import ProjectConfig

def _model(name):
    return json.loads((train.PRETRAINED / f"{name}.json").read_text())["config"]["train"].get("model", "contextual")


# Contextual GAN models; the pix2pix baseline and the attribute classifier have tests of their own below
SHIPPED = sorted(p.stem for p in train.PRETRAINED.glob("*.pt") if p.stem != "attributes_faces" and _model(p.stem) == "contextual")


def test_the_book_models_are_shipped():
    assert {"faces_xdog", "faces_multistyle"} <= set(SHIPPED)
    assert _model("faces_pix2pix") == "pix2pix" and attributes.PRETRAINED.is_file()


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


def test_shipped_baseline_is_the_documented_pix2pix():
    path = train.pretrained("faces_pix2pix")
    G, cfg, train_cfg = pix2pix.load(path, expected=pix2pix.PRESETS["cpu"])
    record = json.loads(path.with_suffix(".json").read_text())
    assert path.stat().st_size < 20e6 and record["command"].startswith("python -m cgan_minimal train --preset cpu")
    assert "--model pix2pix" in record["command"] and record["epochs"] == train_cfg.epochs
    assert "faces_pix2pix" in (train.PRETRAINED / "README.md").read_text()


def test_shipped_classifier_reaches_its_recorded_accuracy():
    """Above the stated floors on 1000 held-out faces, and exactly what its record says."""
    clf = attributes.load(expected_size=32)
    record = json.loads(attributes.PRETRAINED.with_suffix(".json").read_text())
    test = attributes.faces_photos(record["n_test"], 32, start=data.HELD_OUT_START)
    acc = attributes.accuracy(attributes.predict(clf, test.photos), test.labels)
    assert acc == pytest.approx(record["held_out_accuracy"], abs=0.002)
    assert acc["glasses"] >= 0.99 and acc["beard"] >= 0.99 and acc["hair_style"] >= 0.9 and acc["smile"] >= 0.9
