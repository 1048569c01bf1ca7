import csv

import pytest
import torch

from cgan_minimal import train as train_mod
from cgan_minimal.train import TrainConfig


def _losses(run):
    with open(run / "losses.csv") as f:
        return [(int(r["epoch"]), int(r["step"]), float(r["loss_D"]), float(r["loss_G"])) for r in csv.DictReader(f)]


def test_run_folder_contents(tiny_run, tiny_cfg):
    assert (tiny_run / "checkpoint.pt").is_file()
    assert (tiny_run / "config.json").is_file()
    assert (tiny_run / "samples" / "epoch_001.png").is_file()
    rows = _losses(tiny_run)
    assert len(rows) == tiny_cfg.train_size // tiny_cfg.batch_size
    assert not [p for p in tiny_run.rglob("*") if ".tmp" in p.name]
    ckpt = torch.load(tiny_run / "checkpoint.pt", weights_only=True)
    assert set(ckpt) >= {"config", "epoch", "G", "D", "G_ema", "opt_G", "opt_D", "rng"}
    assert ckpt["epoch"] == 1 and ckpt["config"]["train"]["preset"] == "tiny"
    assert ckpt["config"]["model"]["ngf"] == 16


def test_same_seed_same_numbers(tmp_path, tiny_cfg, tiny_run):
    train_mod.train(tiny_cfg, tmp_path / "again", progress=False)
    assert _losses(tmp_path / "again") == _losses(tiny_run)
    other = TrainConfig(**{**tiny_cfg.__dict__, "seed": 1})
    train_mod.train(other, tmp_path / "other", progress=False)
    assert _losses(tmp_path / "other") != _losses(tiny_run)


def test_resume_continues_exactly(tmp_path, tiny_cfg):
    two = TrainConfig(**{**tiny_cfg.__dict__, "epochs": 2})
    full = train_mod.train(two, tmp_path / "full", progress=False)
    train_mod.train(tiny_cfg, tmp_path / "split", progress=False)  # 1 epoch, then stop
    resumed = train_mod.train(two, tmp_path / "split", resume=True, progress=False)
    assert _losses(tmp_path / "split") == _losses(tmp_path / "full")
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.epoch == 2


def test_resume_refuses_other_settings(tmp_path, tiny_cfg, tiny_run):
    with pytest.raises(ValueError, match="preset: checkpoint 'tiny' vs asked 'cpu'"):
        train_mod.Trainer.load(tiny_run / "checkpoint.pt", TrainConfig(**{**tiny_cfg.__dict__, "preset": "cpu"}))
    with pytest.raises(ValueError, match="train_size"):
        train_mod.Trainer.load(tiny_run / "checkpoint.pt", TrainConfig(**{**tiny_cfg.__dict__, "train_size": 64}))


def test_load_models_checks_the_preset(tiny_run):
    G, D, mcfg, tcfg = train_mod.load_models(tiny_run)
    assert not G.training and not D.training
    assert mcfg.ngf == 16 and tcfg.preset == "tiny"
    with pytest.raises(ValueError, match="does not match the preset.*ngf: checkpoint 16 vs preset 32"):
        train_mod.load_models(tiny_run, expected=train_mod.preset("cpu"))


def test_truncated_and_foreign_checkpoints(tmp_path, tiny_run):
    blob = (tiny_run / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cut.pt is not a readable checkpoint"):
        train_mod.load_models(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a cgan_minimal checkpoint"):
        train_mod.load_models(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        train_mod.load_models(tmp_path / "nothing_here")


def test_failed_save_leaves_the_old_checkpoint(tmp_path, tiny_cfg, monkeypatch):
    trainer = train_mod.Trainer.create(tiny_cfg)
    path = tmp_path / "checkpoint.pt"
    trainer.save(path)
    before = path.read_bytes()

    def broken_save(obj, f, *a, **k):
        open(f, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    trainer.epoch = 7
    with pytest.raises(OSError):
        trainer.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_g_step_leaves_d_untouched(tiny_cfg):
    trainer = train_mod.Trainer.create(tiny_cfg)
    real = torch.rand(8, 3, 32, 64) * 2 - 1
    seen = []
    orig = trainer.opt_G.step

    def spy(*a, **k):  # D's gradients at the moment G steps must be those of the D step alone
        seen.append([p.grad.clone() for p in trainer.D.parameters()])
        return orig(*a, **k)

    trainer.opt_G.step = spy
    trainer.step(real)
    d_grads = [p.grad for p in trainer.D.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(seen[0], d_grads))
    assert not any(p.requires_grad for p in trainer.D.parameters())


def test_mixed_precision_is_off_on_cpu_by_default_and_bf16_runs_there(tiny_cfg):
    from dataclasses import replace

    cpu = torch.device("cpu")
    assert train_mod.autocast_dtype("auto", cpu) is None  # the CPU numbers stay fp32, bit for bit
    with pytest.raises(ValueError, match="fp16 needs a CUDA GPU"):
        train_mod.autocast_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="--precision"):
        TrainConfig(precision="fp8").validate()
    real = torch.rand(8, 3, 32, 64) * 2 - 1
    losses = {}
    for precision in ("fp32", "bf16"):
        trainer = train_mod.Trainer.create(replace(tiny_cfg, precision=precision))
        assert not trainer.scaler_D.is_enabled()  # loss scaling is for fp16 only
        losses[precision] = trainer.step(real)
    assert all(v.dtype == torch.float32 for v in losses["bf16"].values())
    for k, v in losses["fp32"].items():  # bf16 keeps 8 bits of mantissa: the same step, to about 1 %
        assert abs(losses["bf16"][k] - v) <= 0.02 * abs(v) + 0.01, k


def test_adam_settings(tiny_cfg):
    trainer = train_mod.Trainer.create(tiny_cfg)
    g = trainer.opt_G.param_groups[0]
    assert g["lr"] == 2e-4 and g["betas"] == (0.5, 0.999)


def test_bad_train_settings():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0).validate()
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig(preset="xl").validate()


def test_wrong_image_size_for_preset(tmp_path, tiny_cfg):
    from cgan_minimal import data

    data.save_folder(data.faces_dataset(4, size=64), tmp_path / "d")
    cfg = TrainConfig(**{**tiny_cfg.__dict__, "data": str(tmp_path / "d"), "train_size": 0})
    with pytest.raises(ValueError, match="is 64×128, but the preset needs 32×64"):
        train_mod.train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_instance_noise_anneals_to_zero_and_label_smoothing_runs(tiny_cfg, tmp_path):
    cfg = TrainConfig(**{**tiny_cfg.__dict__, "epochs": 2, "instance_noise": 0.1, "real_label": 0.9})
    trainer = train_mod.train(cfg, tmp_path / "noisy", progress=False)
    assert trainer.steps == 2 * trainer.steps_per_epoch
    assert trainer.noise_std() == 0.0
    trainer.steps = trainer.steps_per_epoch  # half-way through the run
    assert trainer.noise_std() == pytest.approx(0.05)
    assert _losses(tmp_path / "noisy") != []


def test_ema_warm_up():
    assert train_mod.ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert train_mod.ema_decay_at(10**6, 0.999) == 0.999


# ---------------------------------------------------------------- fine-tuning on another style
def test_init_from_starts_from_the_trained_weights(tmp_path, tiny_cfg, tiny_run):
    cfg = TrainConfig(**{**tiny_cfg.__dict__, "init_from": str(tiny_run), "lr": 1e-5, "style": "photocopy"})
    start = train_mod.Trainer.init_from(tiny_run, cfg)
    ckpt = train_mod.read_checkpoint(tiny_run)
    for name in ("G", "D", "G_ema"):
        for k, v in getattr(start, name).state_dict().items():
            torch.testing.assert_close(v, ckpt[name][k])
    assert start.epoch == 0 and start.opt_G.param_groups[0]["lr"] == 1e-5
    assert start.ema_steps == ckpt["ema_steps"] > 0  # the EMA goes on at full decay
    tuned = train_mod.train(cfg, tmp_path / "tuned", progress=False)
    assert tuned.epoch == 1
    moved = sum((a - ckpt["G"][k]).abs().sum() for k, a in tuned.G.state_dict().items() if a.is_floating_point())
    assert moved > 0
    saved = train_mod.read_checkpoint(tmp_path / "tuned")["config"]["train"]
    assert saved["init_from"] == str(tiny_run) and saved["style"] == "photocopy"


def test_init_from_refuses_another_preset(tiny_run, tiny_cfg):
    cfg = TrainConfig(**{**tiny_cfg.__dict__, "preset": "cpu", "init_from": str(tiny_run)})
    with pytest.raises(ValueError, match="ngf"):
        train_mod.Trainer.init_from(tiny_run, cfg)


def test_style_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="pencil"):
        TrainConfig(style="pencil").validate()
    with pytest.raises(ValueError, match="holds its own sketches"):
        TrainConfig(data=str(tmp_path), style="fdog").validate()
    TrainConfig(style="xdog,photocopy,fdog").validate()


def test_export_is_small_and_completes_like_the_run(tmp_path, tiny_run, tiny_cfg):
    path = train_mod.export(tiny_run, tmp_path / "model.pt")
    assert path.stat().st_size < 0.3 * (tiny_run / "checkpoint.pt").stat().st_size
    G, D, _, _ = train_mod.load_models(tiny_run)
    G2, D2, _, _ = train_mod.load_models(path)
    assert next(G2.parameters()).dtype == torch.float32
    z = torch.rand(4, G.cfg.nz) * 2 - 1
    torch.testing.assert_close(G2(z), G(z), atol=2e-2, rtol=0)  # float16 storage
    torch.testing.assert_close(D2(G(z)), D(G(z)), atol=5e-2, rtol=0)
    with pytest.raises(ValueError, match="exported model"):
        train_mod.Trainer.load(path, tiny_cfg)
    tuned = train_mod.Trainer.init_from(path, TrainConfig(**{**tiny_cfg.__dict__, "init_from": str(path)}))
    torch.testing.assert_close(tuned.G(z), tuned.G_ema.train()(z))  # G starts as the exported generator


def test_pretrained_names_what_is_shipped():
    with pytest.raises(FileNotFoundError, match="no shipped model 'nope'"):
        train_mod.pretrained("nope")
