import json
import subprocess
import sys

import pytest

from cgan_minimal.cli import main


def test_demo_tiny_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--preset", "tiny", "--epochs", "1", "--train-size", "128", "--batch-size", "32",
               "--n", "6", "--iters", "10", "--init-candidates", "3", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "SSIM" in printed and "completions.png" in printed
    m = json.loads((out / "metrics.json").read_text())
    for k in ("ssim", "ssim_nearest_neighbour", "ssim_mean_photo", "n", "seconds"):
        assert k in m
    assert m["n"] == 6 and -1 <= m["ssim"] <= 1 and len(m["ssim_per_sketch"]) == 6
    assert m["contextual_loss_end"] < m["contextual_loss_start"]
    assert (out / "completions.png").stat().st_size > 1000
    assert (out / "run" / "checkpoint.pt").is_file()


def test_complete_from_a_run(tiny_run, tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["complete", "--checkpoint", str(tiny_run), "--n", "4", "--iters", "5", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["n"] == 4
    out2 = tmp_path / "p2s"
    assert main(["complete", "--checkpoint", str(tiny_run / "checkpoint.pt"), "--n", "3", "--iters", "3",
                 "--known", "photo", "--out", str(out2)]) == 0
    assert (out2 / "completions.png").is_file()


def test_complete_with_early_stopping(tiny_run, tmp_path, capsys):
    out = tmp_path / "es"
    assert main(["complete", "--checkpoint", str(tiny_run), "--n", "4", "--iters", "20", "--early-stop", "0.2",
                 "--early-stop-patience", "2", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["settings"]["early_stop_tol"] == 0.2 and m["settings"]["early_stop_patience"] == 2
    assert 2 <= m["steps_mean"] < 20 and "steps on average" in capsys.readouterr().out
    assert main(["complete", "--checkpoint", str(tiny_run), "--n", "2", "--iters", "3", "--out", str(tmp_path / "fixed")]) == 0
    assert "steps_mean" not in json.loads((tmp_path / "fixed" / "metrics.json").read_text())  # off by default


@pytest.mark.parametrize("args, message", [
    (["--iters", "0"], "iters must be >= 1"),
    (["--lam", "-1"], "lam"),
    (["--n", "0"], "--n must be >= 1"),
    (["--early-stop", "-0.01"], "early_stop_tol (--early-stop) must be a number in [0, 1)"),
    (["--early-stop", "nan"], "early_stop_tol (--early-stop)"),
    (["--early-stop", "0.01", "--early-stop-patience", "0"], "early_stop_patience (--early-stop-patience) must be a whole number >= 1"),
])
def test_complete_bad_arguments(tiny_run, tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    assert main(["complete", "--checkpoint", str(tiny_run), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing half-written


def test_complete_refuses_another_preset(tiny_run, tmp_path, capsys):
    assert main(["complete", "--checkpoint", str(tiny_run), "--preset", "cpu", "--out", str(tmp_path / "o")]) == 2
    assert "does not match the preset (ngf: checkpoint 16 vs preset 32" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_complete_truncated_checkpoint(tiny_run, tmp_path, capsys):
    blob = (tiny_run / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[:1000])
    assert main(["complete", "--checkpoint", str(tmp_path / "cut.pt"), "--out", str(tmp_path / "o")]) == 2
    assert "cut.pt is not a readable checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_train_bad_inputs(tmp_path, tiny_run, capsys):
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--preset", "cpu", "--train-size", "128", "--out", str(tiny_run), "--resume"]) == 2
    assert "preset: checkpoint 'tiny' vs asked 'cpu'" in capsys.readouterr().err


def test_fine_tune_on_another_style_then_complete_that_style(tiny_run, tmp_path, capsys):
    tuned = tmp_path / "photocopy"
    assert main(["train", "--preset", "tiny", "--train-size", "64", "--batch-size", "32", "--epochs", "1",
                 "--style", "photocopy", "--init-from", str(tiny_run), "--lr", "1e-5", "--out", str(tuned)]) == 0
    config = json.loads((tuned / "config.json").read_text())["train"]
    assert config["style"] == "photocopy" and config["lr"] == 1e-5 and config["init_from"] == str(tiny_run)
    out = tmp_path / "c"
    assert main(["complete", "--checkpoint", str(tiny_run), "--style", "photocopy", "--n", "3", "--iters", "3", "--out", str(out)]) == 0
    assert "style=photocopy" in json.loads((out / "metrics.json").read_text())["data"]
    capsys.readouterr()
    assert main(["train", "--preset", "tiny", "--init-from", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "cgan_minimal", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "complete" in r.stdout and "demo" in r.stdout
