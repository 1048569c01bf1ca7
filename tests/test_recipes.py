"""The training recipes (dcgan, r1 and their parts), DiffAugment on joint images, and the
sample-quality measure that compares them (chapter "Training the GAN")."""

import json

import numpy as np
import pytest
import torch

from cgan_minimal import attributes, cli, data, metrics, models
from cgan_minimal import train as train_mod
from cgan_minimal.train import RECIPES, TrainConfig


# ---------------------------------------------------------------- recipes
def test_recipes_set_their_fields_and_explicit_values_override():
    assert TrainConfig(recipe="dcgan").r1_gamma == 0 and TrainConfig(recipe="dcgan").d_norm == "bn"
    assert TrainConfig().recipe == "r1_mbstd" and TrainConfig().r1_gamma == 1.0 and TrainConfig().mbstd == 4
    assert TrainConfig(recipe="dcgan", r1_gamma=0.5).r1_gamma == 0.5
    for name, fields in RECIPES.items():
        cfg = TrainConfig(recipe=name).validate()
        assert {k: getattr(cfg, k) for k in fields} == fields


def test_unknown_recipe_and_bad_recipe_fields_are_clear_errors(capsys):
    with pytest.raises(ValueError, match="unknown recipe 'wgan'; choose one of dcgan, r1"):
        TrainConfig(recipe="wgan")
    for bad, match in [({"loss": "wasserstein"}, "loss.*must be one of"), ({"r1_gamma": -1.0}, r"r1_gamma \(--r1-gamma\) must be a finite number >= 0"),
                       ({"d_norm": "ln"}, "d_norm must be one of"), ({"mbstd": 1}, "group size"),
                       ({"augment": "rotate"}, "unknown augmentation rotate")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad).validate()
    with pytest.raises(SystemExit):
        cli.main(["train", "--recipe", "wgan", "--out", "x"])
    assert "invalid choice: 'wgan'" in capsys.readouterr().err


def test_a_config_saved_before_recipes_is_the_paper_dcgan():
    cfg = TrainConfig.from_dict({"preset": "cpu", "epochs": 40, "g_steps": 2})
    assert cfg.recipe == "dcgan" and cfg.r1_gamma == 0 and cfg.mbstd == 0
    assert cfg.model_config() == models.preset("cpu")


def test_cli_recipe_then_options():
    args = cli.build_parser().parse_args(["train", "--out", "r", "--recipe", "dcgan", "--mbstd", "4"])
    cfg = cli._train_cfg(args, "faces")
    assert (cfg.recipe, cfg.r1_gamma, cfg.mbstd) == ("dcgan", 0.0, 4)
    assert "--recipe dcgan" in cli.train_command(cfg, "r") and "--mbstd 4" in cli.train_command(cfg, "r")
    assert "--r1-gamma" not in cli.train_command(cfg, "r")


VARIANTS = [{"recipe": name} for name in RECIPES] + [
    {"loss": "hinge"}, {"d_norm": "sn"}, {"d_norm": "sn+bn"}, {"d_norm": "none"}, {"mbstd": 4},
    {"augment": "translation,cutout,color"}, {"lr_D_mult": 0.5},
]  # R1 at every step is the same code as lazy R1 (test_r1_is_lazy checks which steps run it)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={v}" for k, v in v.items()))
def test_each_recipe_step_runs_and_D_learns(variant):
    """On one fixed batch, D's loss falls from its start in 30 steps, with finite numbers."""
    cfg = TrainConfig(preset="tiny", batch_size=16, seed=0, device="cpu", **variant).validate()
    trainer = train_mod.Trainer.create(cfg)
    real = data.to_tensor(data.faces_dataset(16, size=32).images)
    losses = [trainer.step(real) for _ in range(30)]
    d = [float(x["loss_D"]) for x in losses]
    assert all(np.isfinite([float(v) for x in losses for v in x.values()]))
    assert np.mean(d[-5:]) < np.mean(d[:5])


def test_r1_penalty_is_the_gradient_norm():
    """For D(x) = Σ w·x, ∇ₓD = w: the penalty is γ/2 · ‖w‖², whatever x."""
    w = torch.randn(3, 4, 8)
    x = torch.randn(5, 3, 4, 8, requires_grad=True)
    logits = (x * w).flatten(1).sum(1)
    assert float(train_mod.r1_penalty(logits, x, gamma=2.0)) == pytest.approx(float((w**2).sum()), rel=1e-5)


def test_r1_is_lazy(tiny_cfg, monkeypatch):
    calls = []
    real_penalty = train_mod.r1_penalty
    monkeypatch.setattr(train_mod, "r1_penalty", lambda *a: calls.append(1) or real_penalty(*a))
    trainer = train_mod.Trainer.create(TrainConfig(**{**tiny_cfg.__dict__, "recipe": "r1", "r1_every": 4}))
    real = torch.rand(8, 3, 32, 64) * 2 - 1
    for _ in range(9):
        trainer.step(real)
    assert len(calls) == 3  # steps 0, 4, 8
    dcgan = train_mod.Trainer.create(TrainConfig(preset="tiny", recipe="dcgan", device="cpu"))
    dcgan.step(real)
    assert len(calls) == 3


def test_lr_D_mult_and_minibatch_std_layer():
    trainer = train_mod.Trainer.create(TrainConfig(preset="tiny", lr_D_mult=0.5, mbstd=4, device="cpu"))
    assert trainer.opt_D.param_groups[0]["lr"] == pytest.approx(1e-4) and trainer.opt_G.param_groups[0]["lr"] == 2e-4
    layer = models.MinibatchStd(4)
    same = torch.ones(8, 5, 2, 4)
    assert torch.allclose(layer(same)[:, -1], torch.full((8, 2, 4), 1e-4))  # √1e-8: no spread
    varied = torch.randn(8, 5, 2, 4)
    out = layer(varied)
    assert out.shape == (8, 6, 2, 4) and torch.equal(out[:, :5], varied)
    group0 = varied[0::2]  # images 0, 2, 4, 6 form group 0 of 8 / 4 = 2 interleaved groups
    assert float(out[0, -1, 0, 0]) == pytest.approx(float((group0.var(0, unbiased=False) + 1e-8).sqrt().mean()), rel=1e-5)


def test_spectral_norm_D_has_unit_spectral_norm():
    D = models.Discriminator(models.ModelConfig(size=32, ngf=16, ndf=16, d_norm="sn")).train()
    for _ in range(30):  # power iterations run in training mode
        D(torch.randn(2, 3, 32, 64))
    conv = D.net[2]
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert float(sigma) == pytest.approx(1.0, abs=0.05)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())


def test_a_checkpoint_of_another_D_is_refused(tiny_run, tiny_cfg):
    other = 0 if tiny_cfg.mbstd else 4  # the tiny run has the default recipe's D
    cfg = TrainConfig(**{**tiny_cfg.__dict__, "init_from": str(tiny_run), "mbstd": other})
    with pytest.raises(ValueError, match=f"mbstd: checkpoint {tiny_cfg.mbstd} vs preset {other}"):
        train_mod.Trainer.init_from(tiny_run, cfg)


# ---------------------------------------------------------------- DiffAugment
def test_diff_augment_keeps_the_halves_aligned():
    """A joint image whose two halves are equal stays so under translation and cutout."""
    half = data.to_tensor(data.split(data.faces_dataset(6, size=32).images)[1])
    x = data.join(half, half)
    y = train_mod.diff_augment(x, ["translation", "cutout"], torch.Generator().manual_seed(0))
    sketch, photo = data.split(y)
    assert torch.equal(sketch, photo)
    assert not torch.equal(y, x)
    assert (sketch == 0).all(1).flatten(1).any(1).all()  # every image has its cut-out square


def test_diff_augment_colour_changes_the_photo_only_and_is_differentiable():
    x = (torch.rand(4, 3, 32, 64) * 2 - 1).requires_grad_(True)
    y = train_mod.diff_augment(x, ["color"], torch.Generator().manual_seed(0))
    assert torch.equal(data.split(y)[0], data.split(x)[0])
    assert not torch.allclose(data.split(y)[1], data.split(x)[1])
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# ---------------------------------------------------------------- the sample-quality measure
@pytest.fixture(scope="module")
def clf():
    return attributes.load()


@pytest.fixture(scope="module")
def real():
    return attributes.faces_photos(600, 32, start=data.HELD_OUT_START)


def test_real_against_real_is_near_zero_and_covers_everything(clf, real):
    q = metrics.sample_quality(real.photos[:300], real.photos[300:], clf)
    assert q["fd"] < 5 and 0.9 < q["diversity"] < 1.1
    assert q["attributes"]["hair_style"]["coverage"] == 1.0
    assert sum(q["attributes"]["hair_style"]["samples"]) == pytest.approx(1.0)
    assert metrics.sample_quality(real.photos, real.photos, clf)["fd"] == pytest.approx(0.0, abs=1e-6)


def test_one_repeated_image_covers_one_style_of_six(clf, real):
    q = metrics.sample_quality(np.repeat(real.photos[:1], 300, axis=0), real.photos, clf)
    assert q["attributes"]["hair_style"]["coverage"] == pytest.approx(1 / 6)
    assert q["diversity"] == 0.0 and q["fd"] > 50
    assert "fd" not in metrics.sample_quality(real.photos[:50], real.photos[50:100])  # no classifier


def test_completion_quality_of_perfect_and_of_constant_answers(clf, real):
    truth, labels = real.photos[:64], {k: v[:64] for k, v in real.labels.items()}
    perfect = metrics.completion_quality(truth, truth, labels, clf)
    assert perfect["nearest_own"] == 1.0 and perfect["diversity"] == 1.0
    assert perfect["attributes"]["glasses"]["kept"] > 0.95 and perfect["attributes"]["hair_style"]["agreement"] > 0.9
    constant = metrics.completion_quality(np.repeat(truth[:1], 64, axis=0), truth, labels, clf)
    assert constant["nearest_own"] <= 2 / 64 and constant["diversity"] == 0.0
    assert constant["attributes"]["glasses"]["kept"] in (0.0, 1.0)


def test_the_classifier_reads_blurred_photos(clf, real):
    """Samples of a GAN are softer than the photos: the classifier must not call them all "long"."""
    blurred = data.to_image(attributes.blur(data.to_tensor(real.photos), torch.ones(len(real.photos))))
    acc = attributes.accuracy(attributes.predict(clf, blurred), real.labels)
    assert acc["hair_style"] > 0.9 and acc["glasses"] > 0.9 and acc["beard"] > 0.9


def test_blur_is_a_normalised_gaussian():
    x = torch.rand(3, 3, 16, 16)
    y = attributes.blur(x, torch.tensor([0.0, 1.0, 2.0]))
    torch.testing.assert_close(y[0], x[0])
    assert y[2].std() < y[1].std() < x[1].std()
    torch.testing.assert_close(y.mean((2, 3)), x.mean((2, 3)), atol=0.02, rtol=0)  # reflect padding keeps the mean roughly


def test_train_writes_the_sample_quality_and_resume_keeps_it(tmp_path, tiny_cfg):
    two = TrainConfig(**{**tiny_cfg.__dict__, "epochs": 2})
    train_mod.train(tiny_cfg, tmp_path / "run", progress=False, quality_samples=100)
    train_mod.train(two, tmp_path / "run", resume=True, progress=False, quality_samples=100, eval_every=1)
    q = json.loads((tmp_path / "run" / "metrics.json").read_text())["sample_quality"]
    assert [e["epoch"] for e in q] == [1, 2]
    assert {"fd", "diversity", "attributes"} <= set(q[1]) and q[1]["n"] == 100
    assert "hair_style coverage" in train_mod.quality_line(q[1])


def test_the_paper_D_keeps_its_layer_names():
    """Models saved before the recipes existed must still load: the paper's D has the same keys."""
    D = models.Discriminator(models.preset("tiny"))
    assert [k for k in D.state_dict() if k.endswith("weight")][-1] == "net.12.weight"
    train_mod.load_models(train_mod.pretrained("faces_xdog"))
