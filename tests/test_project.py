import math

import pytest
import torch

from cgan_minimal import data, project
from cgan_minimal.models import sample_z


@pytest.fixture(scope="module")
def targets():
    return data.to_tensor(data.faces_dataset(6, size=32, start=data.HELD_OUT_START).images)


def test_kl_is_nonnegative_and_zero_for_equal_inputs():
    torch.manual_seed(0)
    M = data.mask("sketch", 4, 8)
    a, b = torch.rand(16, 3, 4, 8) * 2 - 1, torch.rand(16, 3, 4, 8) * 2 - 1
    assert (project.contextual_loss(a, b, M) >= 0).all()
    assert torch.allclose(project.contextual_loss(a, a, M), torch.zeros(16), atol=1e-7)


def test_kl_finite_on_extreme_sketches():
    M = data.mask("sketch", 4, 8)
    black, white = -torch.ones(1, 3, 4, 8), torch.ones(1, 3, 4, 8)
    for y, g in [(black, white), (white, black), (black, black), (white, white)]:
        loss = project.contextual_loss(g, y, M)
        assert torch.isfinite(loss).all()
    g = white.clone().requires_grad_(True)
    project.contextual_loss(g, black, M).sum().backward()
    assert torch.isfinite(g.grad).all() and g.grad.abs().sum() > 0


def test_kl_formula_and_l1():
    p, q = torch.tensor([0.2]), torch.tensor([0.7])
    expected = 0.2 * math.log(0.2 / 0.7) + 0.8 * math.log(0.8 / 0.3)
    assert project.kl_bernoulli(p, q).item() == pytest.approx(expected, rel=1e-5)
    M = data.mask("sketch", 2, 4)
    y, g = torch.zeros(1, 3, 2, 4), torch.full((1, 3, 2, 4), 0.5)
    assert project.contextual_loss(g, y, M, kind="l1").item() == pytest.approx(0.5)


def test_distribution_kl_formula_and_what_it_ignores():
    M = data.mask("sketch", 2, 4)  # 3 channels × 2 × 2 known values
    y = torch.ones(1, 3, 2, 4)  # paper everywhere …
    y[..., 0, 0] = -1  # … but ink in one pixel: ink 1 + ε there, ε elsewhere
    g = torch.zeros(1, 3, 2, 4)  # gray everywhere: ink 0.5 + ε
    eps = 0.1
    P = torch.tensor([1 + eps] * 3 + [eps] * 9) / (3 * (1 + eps) + 9 * eps)
    Q = torch.full((12,), 1 / 12)
    expected = (P * (P / Q).log()).sum().item()
    assert project.contextual_loss(g, y, M, "distribution", eps).item() == pytest.approx(expected, rel=1e-5)
    assert project.kl_distribution(y, y, M).item() == pytest.approx(0, abs=1e-7)
    lighter = torch.where(y < 0, torch.zeros_like(y), y)  # the same ink, half as dark
    assert project.kl_distribution(lighter, y, M, eps=1e-9).item() < 1e-6  # only where the ink is counts
    assert project.kl_bernoulli(project.to_probability(y, eps), project.to_probability(lighter, eps)).mean() > 0.01


@pytest.mark.parametrize("kind", project.CONTEXTUAL_LOSSES)
def test_contextual_loss_reads_only_the_known_half(targets, kind):
    M = data.mask("sketch", 32, 64)
    g = torch.full_like(targets, 0.3)  # not 0: |0 − y| and KL(p ‖ ½) do not see y → −y
    changed = targets.clone()
    changed[..., 32:] = -changed[..., 32:]
    assert torch.equal(project.contextual_loss(g, targets, M, kind), project.contextual_loss(g, changed, M, kind))
    changed[..., :32] = -changed[..., :32]
    assert not torch.equal(project.contextual_loss(g, targets, M, kind), project.contextual_loss(g, changed, M, kind))


def test_perceptual_losses():
    l = torch.tensor([-3.0, 0.0, 2.0])
    d = torch.sigmoid(l)
    assert torch.allclose(project.perceptual_loss(l, "paper"), torch.log(1 - d), atol=1e-6)
    assert torch.allclose(project.perceptual_loss(l, "nonsat"), -torch.log(d), atol=1e-6)
    # both fall as D(G(z)) rises
    assert (project.perceptual_loss(l, "paper").diff() < 0).all()
    assert (project.perceptual_loss(l, "nonsat").diff() < 0).all()


def test_best_of_n_picks_the_argmin(tiny_models, targets):
    G, D = tiny_models
    M = data.mask("sketch", 32, 64)
    n = 8
    z0, loss0 = project.best_of_n(G, targets, M, n, generator=torch.Generator().manual_seed(5))
    cands = sample_z(len(targets) * n, G.cfg.nz, torch.Generator().manual_seed(5)).view(len(targets), n, -1)
    with torch.no_grad():
        all_losses = torch.stack([project.contextual_loss(G(cands[:, k]), targets, M) for k in range(n)], 1)
    assert torch.allclose(loss0, all_losses.min(1).values, atol=1e-6)
    assert torch.equal(z0, cands[torch.arange(len(targets)), all_losses.argmin(1)])
    assert (all_losses.max(1).values > loss0 + 1e-4).all()  # argmax would have been caught


def test_projection_lowers_the_loss_keeps_z_in_box_and_known_half(tiny_models, targets):
    G, D = tiny_models
    r = project.complete(G, D, targets, iters=30, init_candidates=4, generator=torch.Generator().manual_seed(0))
    c = r.history["contextual"]
    assert c.shape == (31, len(targets)) and r.history["total"].shape == (31, len(targets))
    assert (c[-1] < c[0]).all()
    assert torch.allclose(c[0], r.init_loss)
    assert r.z.abs().max() <= 1
    assert torch.equal(data.split(r.x)[0], data.split(targets)[0])  # the given sketch, exactly
    assert torch.equal(data.split(r.x)[1], data.split(r.G_z)[1])
    assert torch.equal(r.photo, data.split(r.x)[1])


def test_z_is_clipped_even_with_huge_steps(tiny_models, targets):
    G, D = tiny_models
    r = project.complete(G, D, targets, iters=5, lr=1e4, init_candidates=1, generator=torch.Generator().manual_seed(0))
    assert r.z.abs().max() <= 1 and (r.z.abs() == 1).any()


def test_adam_and_other_loss_variants(tiny_models, targets):
    G, D = tiny_models
    for kw in [dict(optimizer="adam", lr=0.05), dict(contextual="l1"), dict(contextual="distribution"), dict(perceptual="nonsat", lam=0.1), dict(nesterov=False)]:
        r = project.complete(G, D, targets, iters=20, init_candidates=2, generator=torch.Generator().manual_seed(0), **kw)
        assert (r.history["contextual"][-1] <= r.history["contextual"][0] + 1e-6).all(), kw


def test_batch_members_do_not_interact(tiny_models, targets):
    G, D = tiny_models
    z0 = sample_z(len(targets), G.cfg.nz, torch.Generator().manual_seed(2))
    together = project.complete(G, D, targets, iters=10, z0=z0)
    alone = project.complete(G, D, targets[2:3], iters=10, z0=z0[2:3])
    assert torch.allclose(together.z[2:3], alone.z, atol=1e-5)
    assert torch.allclose(together.history["total"][:, 2], alone.history["total"][:, 0], atol=1e-5)


def test_photo_to_sketch_by_choosing_the_mask(tiny_models, targets):
    G, D = tiny_models
    r = project.complete(G, D, targets, iters=5, known="photo", init_candidates=2)
    assert torch.equal(data.split(r.x)[1], data.split(targets)[1])
    assert torch.equal(r.sketch, data.split(r.G_z)[0])


def test_models_stay_frozen_and_in_eval(tiny_models, targets):
    G, D = tiny_models
    project.complete(G, D, targets[:2], iters=2, init_candidates=1)
    assert not G.training and not D.training
    assert all(p.grad is None for p in G.parameters())


@pytest.mark.parametrize("kw, match", [
    (dict(iters=0), "iters must be >= 1"), (dict(lam=-0.1), "lam"), (dict(lam=float("nan")), "lam"),
    (dict(init_candidates=0), "init_candidates"), (dict(known="left"), "known"), (dict(lr=0), "lr"),
])
def test_bad_settings(tiny_models, targets, kw, match):
    G, D = tiny_models
    with pytest.raises(ValueError, match=match):
        project.complete(G, D, targets, **kw)


def test_bad_targets_and_z0(tiny_models, targets):
    G, D = tiny_models
    with pytest.raises(ValueError, match=r"targets must be \(B, 3, 32, 64\)"):
        project.complete(G, D, torch.zeros(2, 3, 64, 128))
    z0 = torch.zeros(len(targets), G.cfg.nz)
    z0[0, 3] = float("nan")
    with pytest.raises(ValueError, match="z0 contains NaN"):
        project.complete(G, D, targets, z0=z0)
    with pytest.raises(ValueError, match="z0 must have shape"):
        project.complete(G, D, targets, z0=torch.zeros(1, 7))
    with pytest.raises(ValueError, match="in \\[-1, 1\\]"):
        project.complete(G, D, targets * 3)


def test_keep_z_records_the_trajectory(tiny_models):
    G, D = tiny_models
    y = data.to_tensor(data.faces_dataset(3, size=32, seed=0, start=data.HELD_OUT_START).images)
    c = project.complete(G, D, y, iters=4, keep_z=True, generator=torch.Generator().manual_seed(0))
    assert c.history["z"].shape == (5, 3, G.cfg.nz)
    torch.testing.assert_close(c.history["z"][-1], c.z)
    assert c.history["z"].abs().max() <= 1 and not torch.equal(c.history["z"][0], c.z)
    assert "z" not in project.complete(G, D, y, iters=2).history


# ---------------------------------------------------------------- per-sketch early stopping
def _fixed_schedule(G, D, y, z0, iters, lr=0.1):
    """The projection loop written out plainly (SGD, Nesterov momentum 0.9, clip, KL + λ·log(1 − D)):
    what ``complete`` does without early stopping."""
    M = data.mask("sketch", y.shape[2], y.shape[3])
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.SGD([z], lr=lr, momentum=0.9, nesterov=True)
    losses = []
    for _ in range(iters + 1):
        G_z = G(z)
        loss = project.contextual_loss(G_z, y, M) + 0.01 * project.perceptual_loss(D(G_z))
        losses.append(loss.detach())
        if len(losses) > iters:
            break
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            z.clamp_(-1, 1)
    return z.detach(), torch.stack(losses)


def test_without_early_stopping_every_sketch_takes_every_step_of_the_plain_loop(tiny_models, targets):
    G, D = tiny_models
    z0 = sample_z(len(targets), G.cfg.nz, torch.Generator().manual_seed(1))
    c = project.complete(G, D, targets, iters=12, z0=z0)
    z, total = _fixed_schedule(G, D, targets, z0, 12)
    assert torch.equal(c.z, z) and torch.equal(c.history["total"], total)  # bit for bit
    assert c.steps.tolist() == [12] * len(targets) and c.history["total"].shape == (13, len(targets))
    assert torch.equal(project.complete(G, D, targets, iters=12, z0=z0, early_stop_patience=1).z, z)  # patience alone: still off


def _half_converged(G, targets):
    """Targets whose first three start at their own optimum (y = G(z*), z0 = z*: nothing to improve)
    and the other three far from it."""
    z_star = sample_z(3, G.cfg.nz, torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = torch.cat([G(z_star), targets[3:]])
    return y, torch.cat([z_star, sample_z(3, G.cfg.nz, torch.Generator().manual_seed(3))])


@pytest.mark.parametrize("optimizer, lr, tol", [("sgd", 1.0, 1e-3), ("adam", 0.05, 0.01)])
def test_early_stopping_stops_converged_sketches_and_shrinks_the_batch(tiny_models, targets, optimizer, lr, tol, monkeypatch):
    G, D = tiny_models
    y, z0 = _half_converged(G, targets)
    kw = dict(iters=30, z0=z0, lam=0.0, optimizer=optimizer, lr=lr, keep_z=True)
    fixed = project.complete(G, D, y, **kw)
    batches = []
    real_losses = project._losses
    monkeypatch.setattr(project, "_losses", lambda G_, D_, z, *a: batches.append(len(z)) or real_losses(G_, D_, z, *a))
    early = project.complete(G, D, y, early_stop_tol=tol, early_stop_patience=5, **kw)
    steps = early.steps.tolist()
    assert 5 == min(steps) < 30 and max(steps[:3]) < 30 and len(set(steps)) > 1  # the converged ones stop; not all at once
    last = min(max(steps), 29)  # the last step the loop ran; sketches that took all 30 steps are evaluated once more
    assert batches == [sum(s >= t for s in steps) for t in range(last + 1)] + [steps.count(30)] * (30 in steps)  # the batch shrinks
    T = max(steps)
    assert early.history["total"].shape == (T + 1, 6) and early.history["z"].shape == (T + 1, 6, G.cfg.nz)
    for b, s in enumerate(steps):  # each ẑ is the fixed schedule's z at its own last step, up to round-off
        torch.testing.assert_close(early.z[b], fixed.history["z"][s, b], atol=1e-5, rtol=0)
        torch.testing.assert_close(early.history["total"][: s + 1, b], fixed.history["total"][: s + 1, b], atol=1e-5, rtol=0)
        assert (early.history["total"][s:, b] == early.history["total"][s, b]).all()  # then its final value, repeated
        assert torch.equal(early.history["z"][-1, b], early.z[b])
    with torch.no_grad():
        torch.testing.assert_close(early.G_z, G(early.z), atol=1e-5, rtol=0)
    assert torch.equal(early.x, project.blend(y, early.G_z, data.mask("sketch", 32, 64)))
    again = project.complete(G, D, y, early_stop_tol=tol, early_stop_patience=5, **kw)
    assert torch.equal(again.z, early.z) and torch.equal(again.steps, early.steps)  # deterministic


def test_early_stopping_with_best_of_n_and_complete_images(tiny_models, targets):
    G, D = tiny_models
    images = data.to_image(targets)
    a = project.complete_images(G, D, images, project.ProjectConfig(iters=20, early_stop_tol=0.2, early_stop_patience=2), seed=4,
                                batch_size=4, with_steps=True)
    b = project.complete_images(G, D, images, project.ProjectConfig(iters=20, early_stop_tol=0.2, early_stop_patience=2), seed=4, batch_size=4)
    assert len(a) == 3 and len(b) == 2 and (a[0] == b[0]).all() and torch.equal(a[1], b[1])
    assert a[2].shape == (6,) and (a[2] < 20).all()  # a 20 % gain needed: every sketch stops early


@pytest.mark.parametrize("kw, match", [
    (dict(early_stop_tol=-0.1), r"early_stop_tol \(--early-stop\) must be a number in \[0, 1\)"),
    (dict(early_stop_tol=1.0), "early_stop_tol"), (dict(early_stop_tol=float("nan")), "early_stop_tol"),
    (dict(early_stop_patience=0), r"early_stop_patience \(--early-stop-patience\) must be a whole number >= 1"),
    (dict(early_stop_patience=2.5), "early_stop_patience"),
])
def test_bad_early_stop_settings(tiny_models, targets, kw, match):
    G, D = tiny_models
    with pytest.raises(ValueError, match=match):
        project.complete(G, D, targets, **kw)
