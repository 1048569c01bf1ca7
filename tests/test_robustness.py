"""Nothing lost, nothing silent: overwrites, divergence, output locations, crafted checkpoints.

Each test drives the command line (or the function behind it) the way a careless or hostile
user would, and checks for one clear line, exit code 2, and no file changed or half written.
"""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from cgan_minimal import train as train_mod
from cgan_minimal.cli import main
from cgan_minimal.utils import remove_stale_temporaries, to_json

TINY = ["--preset", "tiny", "--train-size", "128", "--batch-size", "32", "--epochs", "1", "--device", "cpu"]


def error_of(capsys, argv) -> str:
    """Run the CLI; it must exit 2 with one `error:` line and no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ") and "Traceback" not in "\n".join(err)
    return err[-1]


def snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the session's tiny run, free to be damaged."""
    return shutil.copytree(tiny_run, tmp_path / "run")


# ---------------------------------------------------------------- 1, 12: overwrites and resume
def test_train_refuses_a_finished_run_and_overwrite_removes_stale_files(run_copy, capsys):
    before = snapshot(run_copy)
    assert "already holds a training run" in error_of(capsys, ["train", *TINY, "--out", str(run_copy)])
    assert snapshot(run_copy) == before
    (run_copy / "samples" / "epoch_009.png").write_bytes(b"stale")
    assert main(["train", *TINY, "--train-size", "32", "--out", str(run_copy), "--overwrite"]) == 0
    assert sorted(p.name for p in (run_copy / "samples").iterdir()) == ["epoch_001.png"]
    assert json.loads((run_copy / "config.json").read_text())["train"]["train_size"] == 32


def test_demo_refuses_an_earlier_demo_before_any_work(run_copy, tmp_path, capsys):
    out = tmp_path / "demo"
    shutil.copytree(run_copy, out / "run")
    before = snapshot(out)
    assert "--overwrite" in error_of(capsys, ["demo", *TINY, "--out", str(out)])
    assert snapshot(out) == before


def test_resume_with_fewer_epochs_trains_nothing_and_changes_nothing(run_copy, capsys):
    before = snapshot(run_copy)
    assert main(["train", *TINY, "--out", str(run_copy), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "nothing to train" in printed and "trained 0 epochs" in printed
    assert snapshot(run_copy) == before


def test_the_summary_counts_the_epochs_of_this_call(run_copy, capsys):
    assert main(["train", *TINY, "--epochs", "2", "--out", str(run_copy), "--resume"]) == 0
    assert "trained 1 epochs" in capsys.readouterr().out
    assert json.loads((run_copy / "config.json").read_text())["train"]["epochs"] == train_mod.read_checkpoint(run_copy)["epoch"] == 2


# ---------------------------------------------------------------- 2: export onto itself
def test_export_refuses_to_replace_its_checkpoint_or_write_its_record_over_the_model(run_copy, tmp_path, capsys):
    before = snapshot(run_copy)
    assert "being exported" in error_of(capsys, ["export", "--checkpoint", str(run_copy), "--out", str(run_copy / "checkpoint.pt")])
    assert ".json" in error_of(capsys, ["export", "--checkpoint", str(run_copy), "--out", str(tmp_path / "model.json")])
    other = shutil.copytree(run_copy, tmp_path / "other")
    assert "resumable" in error_of(capsys, ["export", "--checkpoint", str(run_copy), "--out", str(other / "checkpoint.pt")])
    assert snapshot(run_copy) == before and not (tmp_path / "model.json").exists()
    model = tmp_path / "m.pt"
    assert main(["export", "--checkpoint", str(run_copy), "--out", str(model)]) == 0
    assert "being exported" in error_of(capsys, ["export", "--checkpoint", str(model), "--out", str(model)])


# ---------------------------------------------------------------- 3: non-finite options, divergence
@pytest.mark.parametrize("option, value", [("--lr", "inf"), ("--instance-noise", "nan"), ("--real-label", "nan"),
                                           ("--r1-gamma", "-inf"), ("--lr-D-mult", "nan"), ("--ema-decay", "nan"), ("--l1-weight", "inf")])
def test_every_float_option_must_be_finite(option, value, tmp_path, capsys):
    assert option in error_of(capsys, ["train", *TINY, f"{option}={value}", "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(run_copy, monkeypatch, capsys):
    good = (run_copy / "checkpoint.pt").read_bytes()
    step = train_mod.Trainer.step

    def poisoned(self, real):
        losses = step(self, real)
        with torch.no_grad():
            next(self.D.parameters()).fill_(float("nan"))
        return losses

    monkeypatch.setattr(train_mod.Trainer, "step", poisoned)
    line = error_of(capsys, ["train", *TINY, "--epochs", "2", "--out", str(run_copy), "--resume"])
    assert "diverged at epoch 2" in line and "D.net.0" in line and "epoch 1) is kept" in line
    assert (run_copy / "checkpoint.pt").read_bytes() == good


def test_a_huge_learning_rate_is_stopped_with_no_checkpoint(tmp_path, capsys):
    line = error_of(capsys, ["train", *TINY, "--lr", "1e30", "--out", str(tmp_path / "r")])
    assert "diverged at epoch 1" in line and "no checkpoint was written" in line
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


# ---------------------------------------------------------------- 4: output locations, before the compute
@pytest.mark.parametrize("command", ["complete", "evaluate", "export", "train", "train-classifier"])
def test_an_unwritable_output_is_refused_before_any_work(command, tiny_run, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = str(blocker / "sub" / ("m.pt" if command in ("export", "train-classifier") else "out"))
    argv = {
        "complete": ["complete", "--checkpoint", str(tiny_run), "--n", "2", "--iters", "2"],
        "evaluate": ["evaluate", "--checkpoint", str(tiny_run), "--baseline", str(tiny_run), "--n", "2", "--iters", "2"],
        "export": ["export", "--checkpoint", str(tiny_run)],
        "train": ["train", *TINY],
        "train-classifier": ["train-classifier", "--train-size", "64", "--epochs", "1"],
    }[command]
    line = error_of(capsys, [*argv, "--out", out])
    assert str(blocker) in line and "Not a directory" in line
    assert blocker.read_text() == "not a folder"


def test_an_output_folder_that_is_a_file_is_refused(tiny_run, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert "is a file, not a folder" in error_of(capsys, ["complete", "--checkpoint", str(tiny_run), "--n", "2", "--out", str(blocker)])


# ---------------------------------------------------------------- 5: crafted checkpoints
@pytest.mark.parametrize("change, message", [
    (lambda c: c["config"]["model"].update(colour="red"), "unknown setting 'colour'"),
    (lambda c: c["config"]["train"].update(optimiser="sgd"), "unknown setting 'optimiser'"),
    (lambda c: c["config"].pop("train"), "needs a 'model' and a 'train' section"),
    (lambda c: c["config"]["model"].update(ngf=1e6), "ngf must be int"),
    (lambda c: c["config"]["model"].update(ngf=10**6), r"ngf = 1000000 is outside \[1, 1024\]"),
    (lambda c: c["config"]["model"].update(size=40), "multiple of 16"),
    (lambda c: c["config"]["train"].update(lr="fast"), "lr must be float"),
    (lambda c: c["config"]["train"].update(lr=float("nan")), "lr"),
    (lambda c: c["config"].update(model=[1, 2]), "needs a 'model' and a 'train' section"),
])
def test_a_crafted_checkpoint_config_is_refused_before_building_networks(change, message, tiny_run, tmp_path, capsys):
    ckpt = torch.load(tiny_run / "checkpoint.pt", weights_only=True)
    change(ckpt)
    path = tmp_path / "crafted.pt"
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=message):
        train_mod.read_checkpoint(path)
    line = error_of(capsys, ["complete", "--checkpoint", str(path), "--n", "2", "--out", str(tmp_path / "c")])
    assert "crafted.pt" in line


# ---------------------------------------------------------------- 9, 10: option errors name the option
@pytest.mark.parametrize("argv, option", [
    (["train-classifier", "--epochs", "0"], "--epochs"), (["train-classifier", "--size", "0"], "--size"),
    (["train-classifier", "--train-size", "0"], "--train-size"), (["train-classifier", "--blur", "nan"], "--blur"),
    (["train", *TINY, "--device", "foo"], "device 'foo'"), (["train", *TINY, "--seed", "-1"], "--seed"),
    (["complete", "--checkpoint", "x", "--device", "foo"], "device 'foo'"),
])
def test_bad_options_name_the_option(argv, option, tmp_path, capsys):
    assert option in error_of(capsys, [*argv, "--out", str(tmp_path / "o.pt")])
    assert not (tmp_path / "o.pt").exists()


# ---------------------------------------------------------------- 11: temporaries of a killed save
def test_stale_temporaries_are_removed_on_the_next_run(run_copy):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = run_copy / f".checkpoint.tmp{dead.pid}.pt"
    stale.write_bytes(b"half a checkpoint")
    live = run_copy / f".checkpoint.tmp{1}.pt"  # PID 1 is always running: not ours to remove
    live.write_bytes(b"in use")
    assert remove_stale_temporaries(run_copy) == [stale]
    assert not stale.exists() and live.exists()
    live.unlink()
    stale.write_bytes(b"half a checkpoint")
    assert main(["train", *TINY, "--out", str(run_copy), "--resume"]) == 0
    assert not stale.exists()


# ---------------------------------------------------------------- 13: strict JSON
def test_to_json_writes_strict_json():
    text = to_json({"psnr": float("inf"), "nan": float("nan"), "rows": [1.5, -float("inf")]})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard {c}")) == {"psnr": None, "nan": None, "rows": [1.5, None]}
