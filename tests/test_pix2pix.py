"""The pix2pix baseline: network shapes, its receptive field, a training step, the train CLI, loading."""

import pytest
import torch

from cgan_minimal import pix2pix, train
from cgan_minimal.cli import main


@pytest.mark.parametrize("name", ["cpu", "paper"])
def test_unet_and_patchgan_shapes(name):
    cfg = pix2pix.PRESETS[name]
    s = torch.rand(2, 3, cfg.size, cfg.size) * 2 - 1
    out = pix2pix.UNet(cfg)(s)
    assert out.shape == s.shape and out.abs().max() <= 1
    logits = pix2pix.PatchGAN(cfg)(s, out)
    assert logits.ndim == 4 and logits.shape[:2] == (2, 1) and logits.shape[2] > 1  # one logit per patch, not per image


@pytest.mark.parametrize("name, expected", [("cpu", 11), ("paper", 16)])
def test_patchgan_sees_exactly_its_receptive_field(name, expected):
    cfg = pix2pix.PRESETS[name]
    assert cfg.receptive_field == expected
    D = pix2pix.PatchGAN(cfg).eval()
    s = torch.rand(1, 3, cfg.size, cfg.size, requires_grad=True)
    logits = D(s, torch.rand(1, 3, cfg.size, cfg.size))
    h, w = logits.shape[2:]
    logits[0, 0, h // 2, w // 2].backward()
    rows, cols = torch.nonzero(s.grad[0].abs().sum(0), as_tuple=True)
    assert rows.max() - rows.min() + 1 == expected and cols.max() - cols.min() + 1 == expected


def test_unet_uses_its_skip_connections():
    torch.manual_seed(0)
    G = pix2pix.UNet(pix2pix.PRESETS["tiny"]).eval()
    ups = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    downs = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.in_channels for m in ups[1:]] == [2 * m.out_channels for m in reversed(downs[:-1])]  # [decoder | skip]
    s = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(True)
    G(s)[0, :, 5, 5].sum().backward()
    g = s.grad[0].abs().sum(0)
    assert g[4:7, 4:7].mean() > 1.5 * g[20:, 20:].mean()  # the shallow skips make each output pixel local (seeds 0–7: 2.3–4.7×)


def test_one_training_step_updates_both_players():
    cfg = train.TrainConfig(model="pix2pix", preset="tiny", batch_size=8, device="cpu")
    t = pix2pix.Pix2PixTrainer.create(cfg)
    before_G = [p.clone() for p in t.G.parameters()]
    before_D = [p.clone() for p in t.D.parameters()]
    real = torch.rand(8, 3, 32, 64) * 2 - 1
    losses = t.step(real)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_G"] > cfg.l1_weight * 0.1  # the L1 term dominates at the start: |p − G(s)| is large
    assert any(not torch.equal(a, b) for a, b in zip(before_G, t.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_D, t.D.parameters()))


def test_l1_term_pulls_G_towards_the_photo():
    cfg = train.TrainConfig(model="pix2pix", preset="tiny", batch_size=8, device="cpu", ema_decay=0)
    t = pix2pix.Pix2PixTrainer.create(cfg)
    real = torch.rand(8, 3, 32, 64) * 2 - 1
    s, p = real[..., :32], real[..., 32:]
    start = (t.G.eval()(s) - p).abs().mean()
    t.G.train()
    for _ in range(20):
        t.step(real)
    assert (t.G.eval()(s) - p).abs().mean() < start


def test_train_cli_pix2pix_and_loading(tmp_path, tiny_run, capsys):
    out = tmp_path / "p2p"
    assert main(["train", "--model", "pix2pix", "--preset", "tiny", "--train-size", "64", "--epochs", "1",
                 "--batch-size", "32", "--out", str(out)]) == 0
    assert (out / "samples" / "epoch_001.png").is_file()
    G, cfg, train_cfg = pix2pix.load(out)
    assert train_cfg.model == "pix2pix" and cfg == pix2pix.PRESETS["tiny"]
    assert pix2pix.translate(G, torch.zeros(3, 3, 32, 32)).shape == (3, 3, 32, 32)
    with pytest.raises(ValueError, match="not Contextual GAN"):
        train.load_models(out)
    with pytest.raises(ValueError, match="not a pix2pix baseline"):
        pix2pix.load(tiny_run)
    with pytest.raises(ValueError, match="translate: sketches must be"):
        pix2pix.translate(G, torch.zeros(3, 3, 64, 64))
    # resuming as the other model is refused, by name
    assert main(["train", "--preset", "tiny", "--train-size", "64", "--epochs", "2", "--batch-size", "32",
                 "--out", str(out), "--resume"]) == 2
    assert "model: checkpoint 'pix2pix' vs asked 'contextual'" in capsys.readouterr().err
