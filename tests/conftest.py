import pytest
import torch

from cgan_minimal import train as train_mod

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def tiny_cfg():
    return train_mod.TrainConfig(preset="tiny", train_size=128, epochs=1, batch_size=32, seed=0, device="cpu")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_cfg):
    """A run folder with a tiny model trained for one epoch (a few seconds)."""
    out = tmp_path_factory.mktemp("tiny_run")
    train_mod.train(tiny_cfg, out, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_models(tiny_run):
    G, D, model_cfg, train_cfg = train_mod.load_models(tiny_run)
    return G, D
