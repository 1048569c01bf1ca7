import pytest
import torch

from cgan_minimal import models


@pytest.mark.parametrize("name", ["paper", "cpu", "tiny"])
def test_shapes_of_every_preset(name):
    cfg = models.preset(name)
    G, D = models.Generator(cfg), models.Discriminator(cfg)
    z = models.sample_z(2, cfg.nz)
    x = G(z)
    assert x.shape == (2, 3, cfg.size, 2 * cfg.size)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (2,)


def test_paper_preset_is_the_spec():
    cfg = models.PRESETS["paper"]
    assert (cfg.size, cfg.nz, cfg.ngf, cfg.ndf) == (64, 100, 64, 64)
    G, D = models.Generator(cfg), models.Discriminator(cfg)
    assert G.project.out_features == 512 * 4 * 8
    ups = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in ups] == [
        (512, 256, (5, 5), (2, 2)), (256, 128, (5, 5), (2, 2)), (128, 64, (5, 5), (2, 2)), (64, 3, (5, 5), (2, 2))]
    downs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in downs] == [(3, 64), (64, 128), (128, 256), (256, 512)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules()) == 3  # layers 2–4
    assert D.net[-1].in_features == 512 * 4 * 8


def test_init_is_dcgan():
    torch.manual_seed(0)
    G = models.Generator(models.PRESETS["paper"])
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.mean()) < 1e-3 and 0.019 < w.std() < 0.021


def test_z_is_uniform_in_unit_box():
    z = models.sample_z(10000, 100, torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.01 and z.min() < -0.99


def test_unknown_preset_and_bad_size():
    with pytest.raises(ValueError, match="unknown preset"):
        models.preset("huge")
    with pytest.raises(ValueError, match="multiple of 16"):
        models.ModelConfig(size=40)
