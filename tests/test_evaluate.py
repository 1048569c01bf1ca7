"""The evaluate command on tiny checkpoints: a well-formed table, curves, and clear refusals."""

import csv
import json
import math

import numpy as np
import pytest

from cgan_minimal import attributes, data, evaluate, train
from cgan_minimal.cli import main
from cgan_minimal.project import ProjectConfig


@pytest.fixture(scope="module")
def tiny_baseline(tmp_path_factory, tiny_cfg):
    out = tmp_path_factory.mktemp("tiny_pix2pix")
    cfg = train.TrainConfig(**{**tiny_cfg.__dict__, "model": "pix2pix"})
    train.train(cfg, out, progress=False)
    return out


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    faces = attributes.faces_photos(128, 32)
    model = attributes.fit(faces.photos, faces.labels, attributes.ClassifierConfig(epochs=1, features=4))  # n = 6 > 4 features
    return attributes.save(model, tmp_path_factory.mktemp("clf") / "clf.pt")


@pytest.fixture(scope="module")
def evaluated(tiny_run, tiny_baseline, tiny_classifier, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    rc = main(["evaluate", "--checkpoint", str(tiny_run), "--baseline", str(tiny_baseline), "--classifier", str(tiny_classifier),
               "--out", str(out), "--n", "6", "--strengths", "0,0.4,0.7,1", "--reference", "20", "--iters", "4",
               "--init-candidates", "2", "--device", "cpu"])
    assert rc == 0
    return out


def test_evaluate_writes_a_well_formed_table(evaluated):
    with open(evaluated / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], float(r["strength"])) for r in rows] == [
        (m, s) for s in (0, 0.4, 0.7, 1) for m in evaluate.METHODS
    ]
    for r in rows:
        assert float(r["ssim_low"]) <= float(r["ssim"]) <= float(r["ssim_high"])
        assert 0 <= float(r["attributes"]) <= 1 and float(r["realism_fd"]) >= 0 and float(r["fidelity_kl"]) >= 0
        for name in attributes.FACE_ATTRIBUTES:
            assert 0 <= float(r[f"attr_{name}"]) <= 1
        if r["method"] == "real_photo":  # the truth against itself
            assert float(r["ssim"]) == pytest.approx(1.0) and math.isinf(float(r["psnr"]))
        else:
            assert -1 <= float(r["ssim"]) < 1 and 0 < float(r["psnr"]) < 100
    table = [line for line in (evaluated / "results.md").read_text().splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(rows)
    assert all(line.startswith("|") and line.count("|") == 2 + len(evaluate.COLUMNS) + 1 for line in table)
    assert "SSIM" in table[0] and "fidelity KL" in table[0]
    saved = json.loads((evaluated / "results.json").read_text())
    assert saved["settings"]["n"] == 6 and len(saved["rows"]) == len(rows)


def test_the_baselines_are_what_they_say(tiny_run, tiny_baseline, tiny_classifier):
    models = evaluate.load(tiny_run, tiny_baseline, tiny_classifier)
    cfg = evaluate.EvalConfig(n=6, strengths=(0.0, 1.0), reference=20)
    result = evaluate.evaluate(models, cfg, ProjectConfig(iters=3, init_candidates=2))
    rows = {(r["method"], r["strength"]): r for r in result.rows}
    test = train.load_held_out_data(models.train_cfg, models.size, 6, None)
    truth = data.split(test.images)[1]
    for s in cfg.strengths:
        own, other = result.per_face["contextual_gan", s], result.per_face["shuffled_sketch", s]
        # the same photos, each scored against the truth of the next face
        np.testing.assert_array_equal(other["features"], own["features"][evaluate.shuffled(6)])
        assert rows["shuffled_sketch", s]["realism_fd"] == pytest.approx(rows["contextual_gan", s]["realism_fd"])
        np.testing.assert_allclose(np.sort(other["fidelity_kl"]), np.sort(own["fidelity_kl"]))
        assert not np.allclose(other["ssim"], own["ssim"])
        # one photo, whatever the sketch: its truth-dependent numbers do not move with the strength
        const = result.per_face["constant_answer", s]
        assert np.ptp(const["features"], axis=0).max() == 0
        np.testing.assert_array_equal(const["ssim"], result.per_face["constant_answer", 0.0]["ssim"])
        # the per-face values are the table's
        for method in evaluate.METHODS:
            assert rows[method, s]["ssim"] == pytest.approx(result.per_face[method, s]["ssim"].mean())
        assert evaluate.paired(result, ("pix2pix", s), ("pix2pix", s)) == (0.0, 0.0, 0.0)
        mean, low, high = evaluate.paired(result, ("real_photo", s), ("constant_answer", s))
        assert 0 < low <= mean <= high  # the truth beats a constant on every face
        fd, low, high = evaluate.paired(result, ("constant_answer", s), ("real_photo", s), "realism_fd", resamples=50)
        assert fd == pytest.approx(rows["constant_answer", s]["realism_fd"] - rows["real_photo", s]["realism_fd"])
        assert low <= high
    photo = result.examples[0.0]["constant_answer"][0]
    ref = train.reference_photos(models.train_cfg, models.size, 20)
    np.testing.assert_array_equal(photo, ref.mean(0).round().astype(np.uint8))
    np.testing.assert_array_equal(result.examples[0.0]["real_photo"], truth[: cfg.examples])


def test_evaluate_writes_the_figures(evaluated):
    for name in ("robustness.png", "examples.png"):
        assert (evaluated / name).stat().st_size > 5000


def test_clean_and_perturbed_inputs_differ_only_in_the_sketch(evaluated):
    rows = json.loads((evaluated / "results.json").read_text())["rows"]
    real = [r for r in rows if r["method"] == "real_photo"]
    assert len({round(r["realism_fd"], 9) for r in real}) == 1  # the same true photos at every strength
    assert real[0]["fidelity_kl"] < real[-1]["fidelity_kl"]  # a perturbed sketch fits its true photo worse


def test_evaluate_refuses_mismatched_models(tiny_run, tiny_baseline, tiny_classifier, tmp_path, capsys):
    args = ["--classifier", str(tiny_classifier), "--out", str(tmp_path / "x"), "--n", "4", "--iters", "2"]
    assert main(["evaluate", "--checkpoint", str(tiny_run), "--baseline", str(tiny_run), *args]) == 2
    assert "not a pix2pix baseline" in capsys.readouterr().err
    other = tmp_path / "other_style"
    train.train(train.TrainConfig(model="pix2pix", preset="tiny", train_size=64, epochs=1, batch_size=32, style="fdog", device="cpu"),
                other, progress=False)
    assert main(["evaluate", "--checkpoint", str(tiny_run), "--baseline", str(other), *args]) == 2
    assert "trained on different data" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tiny_run), "--baseline", str(tiny_baseline), "--strengths", "0,x", *args]) == 2
    assert "--strengths must be comma-separated numbers" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tiny_run), "--baseline", str(tiny_baseline), *args[:-4], "--n", "3"]) == 2
    assert "needs more photos than the classifier's 4 features" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_evaluate_on_folder_data_uses_its_labels(tmp_path):
    """The CelebA path: models trained on a folder, its test/ sibling, labels.csv attributes."""
    for split, n in (("train", 64), ("test", 8)):
        faces = data.faces_dataset(n, size=32, start=0 if split == "train" else data.HELD_OUT_START)
        data.save_folder(faces, tmp_path / split)
        rows = "".join(f"{i:06d}.png,{1 if g else -1}\n" for i, g in enumerate(faces.labels["glasses"]))
        (tmp_path / split / "labels.csv").write_text("file,Eyeglasses\n" + rows)
    runs = {model: tmp_path / model for model in ("contextual", "pix2pix")}
    for model, out in runs.items():
        cfg = train.TrainConfig(model=model, preset="tiny", data=str(tmp_path / "train"), train_size=0, epochs=1, batch_size=32, device="cpu")
        train.train(cfg, out, progress=False)
    photos = attributes.folder_photos(tmp_path / "train", 32, ("Eyeglasses",))
    clf = attributes.fit(photos.photos, photos.labels, attributes.ClassifierConfig(attributes=("Eyeglasses",), classes=(2,), features=4, epochs=1))
    clf_path = attributes.save(clf, tmp_path / "clf.pt")
    with pytest.raises(ValueError, match="pass --classifier"):
        evaluate.load(runs["contextual"], runs["pix2pix"])
    result = evaluate.run(runs["contextual"], runs["pix2pix"], tmp_path / "out", evaluate.EvalConfig(n=8, strengths=(0.0, 0.5), reference=16),
                          ProjectConfig(iters=3, init_candidates=2), classifier=clf_path, device="cpu")
    assert result.settings["data"].endswith("test") and result.settings["n"] == 8
    assert {r["method"] for r in result.rows} == set(evaluate.METHODS) and "attr_Eyeglasses" in result.rows[0]
    assert (tmp_path / "out" / "results.md").is_file()
    strict = json.loads((tmp_path / "out" / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"results.json holds {c}"))
    assert [r["psnr"] for r in strict["rows"] if r["method"] == "real_photo"][0] is None  # identical images: ∞ in the table
    assert "∞" in (tmp_path / "out" / "results.md").read_text()
