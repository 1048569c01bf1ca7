"""Your own drawing: data.prepare_drawing and ``complete --sketch``."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cgan_minimal import data
from cgan_minimal.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "book" / "example_drawing.png"


def face(h: int = 150, w: int = 120, thickness: int = 3, box=None) -> np.ndarray:
    """A uint8 (h, w) line drawing, dark on white: a head, two eyes and a mouth inside ``box`` (y0, x0, y1, x1)."""
    y0, x0, y1, x1 = box or (10, 10, h - 10, w - 10)
    img = np.full((h, w), 255, np.uint8)
    cy, cx, ry, rx = (y0 + y1) // 2, (x0 + x1) // 2, (y1 - y0) // 2, (x1 - x0) // 2
    cv2.ellipse(img, (cx, cy), (rx, ry), 0, 0, 360, 20, thickness, cv2.LINE_AA)
    for ex in (cx - rx // 2, cx + rx // 2):
        cv2.circle(img, (ex, cy - ry // 4), max(1, rx // 6), 20, thickness, cv2.LINE_AA)
    cv2.line(img, (cx - rx // 3, cy + ry // 2), (cx + rx // 3, cy + ry // 2), 20, thickness, cv2.LINE_AA)
    return img


def sketch_of(joint: np.ndarray) -> np.ndarray:
    """The sketch half's gray (s, s) float in [0, 1] of a prepared joint image."""
    return data.split(joint)[0][:, :, 0].astype(np.float32) / 255


def ink_box(s: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero((s < 0.5).any(1)), np.flatnonzero((s < 0.5).any(0))
    return rows[0], cols[0], rows[-1], cols[-1]


def check_sketch(joint: np.ndarray, size: int = 32) -> np.ndarray:
    """Shape, dtype, a white photo half, three equal channels, dark ink on white paper."""
    assert joint.shape == (size, 2 * size, 3) and joint.dtype == np.uint8
    left, right = data.split(joint)
    assert (right == 255).all()
    assert (left == left[:, :, :1]).all()
    s = sketch_of(joint)
    assert s.min() < 0.2  # solid strokes, as in the training sketches
    assert 0.6 < s.mean() < 0.97  # mostly paper
    assert s[0].mean() > 0.95 and s[-1].mean() > 0.95 and s[:, 0].mean() > 0.95 and s[:, -1].mean() > 0.95  # a white margin
    return s


def test_black_on_white_and_white_on_black_give_the_same_sketch():
    drawing = face()
    s = check_sketch(data.prepare_drawing(drawing, 32))
    inverted = data.prepare_drawing(255 - drawing, 32)  # light chalk on a blackboard
    assert np.abs(sketch_of(inverted) - s).max() <= 1 / 255
    rgb = data.prepare_drawing(np.repeat(drawing[:, :, None], 3, axis=2), 32)
    assert np.abs(sketch_of(rgb) - s).max() <= 1 / 255


def test_the_ink_is_cropped_centred_and_keeps_its_aspect_ratio():
    # a wide canvas with a tall drawing in its right corner
    drawing = face(h=90, w=300, box=(5, 230, 85, 280))  # ink box 80 × 50
    s = check_sketch(data.prepare_drawing(drawing, 32))
    y0, x0, y1, x1 = ink_box(s)
    assert abs((y0 + y1) / 2 - 15.5) <= 1.5 and abs((x0 + x1) / 2 - 15.5) <= 1.5  # centred
    assert y1 - y0 + 1 >= 26  # the longer side fills the square, less the margin
    assert 0.45 < (x1 - x0 + 1) / (y1 - y0 + 1) < 0.8  # 50 / 80 = 0.62, give or take the stroke width
    same = data.prepare_drawing(face(h=90, w=60, box=(5, 5, 85, 55)), 32)  # the same drawing on a snug canvas
    assert np.abs(sketch_of(same) - s).mean() < 0.05


def test_pen_width_does_not_matter():
    thin, thick = (data.prepare_drawing(face(h=400, w=320, thickness=t), 32) for t in (2, 14))
    ink = [float((sketch_of(j) < 0.5).mean()) for j in (thin, thick)]
    assert max(ink) / min(ink) < 1.5, ink


def test_rgba_drawing_on_transparent_paper(tmp_path):
    drawing = face(h=100, w=140)
    rgba = np.zeros((100, 140, 4), np.uint8)
    rgba[:, :, 3] = 255 - drawing  # opaque black strokes, transparent elsewhere
    path = tmp_path / "transparent.png"
    cv2.imwrite(str(path), rgba)
    with pytest.warns(UserWarning, match="transparent"):
        image = data.read_image(path)
    s = check_sketch(data.prepare_drawing(image, 32))
    assert np.abs(s - sketch_of(data.prepare_drawing(drawing, 32))).max() <= 2 / 255
    rgba_array = np.dstack([np.zeros((100, 140, 3), np.uint8), rgba[:, :, 3]])  # an RGBA array, not a file
    assert np.abs(sketch_of(data.prepare_drawing(rgba_array, 32)) - s).max() <= 2 / 255


@pytest.mark.parametrize("convert", [
    lambda d: d.astype(np.uint16) * 257,  # 16-bit gray
    lambda d: d.astype(np.float64) / 255,  # float in [0, 1]
    lambda d: d[:, :, None],  # (H, W, 1)
])
def test_other_pixel_types(convert):
    drawing = face()
    assert np.abs(sketch_of(data.prepare_drawing(convert(drawing), 32)) - sketch_of(data.prepare_drawing(drawing, 32))).max() <= 1 / 255


def test_tiny_and_larger_sizes():
    tiny = np.full((12, 10), 255, np.uint8)
    cv2.rectangle(tiny, (2, 2), (7, 9), 0, 1)
    check_sketch(data.prepare_drawing(tiny, 32))
    check_sketch(data.prepare_drawing(face(), 64), size=64)
    check_sketch(data.prepare_drawing(face(), 32, style="photocopy"))


@pytest.mark.parametrize("image, message", [
    (np.full((100, 80), 255, np.uint8), "has no lines"),  # blank paper
    (np.zeros((100, 80, 3), np.uint8), "has no lines"),  # all ink
    (np.full((100, 80), 200, np.uint8) - np.eye(100, 80, dtype=np.uint8) * 10, "has no lines"),  # too faint
    (np.full((6, 40), 255, np.uint8), "too small"),
    (np.zeros((20, 20, 2), np.uint8), "RGBA image, got shape (20, 20, 2)"),
    (np.full((20, 20), 2.0), "float pixels in [0, 1]"),
])
def test_clear_errors_name_the_drawing(image, message):
    with pytest.raises(ValueError, match="my_drawing.png") as e:
        data.prepare_drawing(image, 32, where="my_drawing.png")
    assert message in str(e.value)


def test_the_shipped_example_drawing():
    assert EXAMPLE.stat().st_size <= 20_000
    image = data.read_image(EXAMPLE)
    assert image.shape[:2] != (32, 32) and np.median(image) == 255  # dark lines on white, not a training sketch size
    check_sketch(data.prepare_drawing(image, 32))


# ---------------------------------------------------------------- complete --sketch
def test_complete_sketch_end_to_end(tiny_run, tmp_path, capsys):
    user = tmp_path / "chalk.png"
    cv2.imwrite(str(user), 255 - face(h=97, w=211, box=(4, 60, 93, 150)))  # white on black, another size
    out = tmp_path / "out"
    rc = main(["complete", "--checkpoint", str(tiny_run), "--sketch", str(user), str(EXAMPLE), "--top-k", "3",
               "--iters", "3", "--init-candidates", "2", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "completed 2 drawings, 3 starts each" in printed and "chalk_completion.png" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 2 and m["top_k"] == 3 and [d["file"] for d in m["drawings"]] == [str(user), str(EXAMPLE)]
    for d, name in zip(m["drawings"], ("chalk", "example_drawing")):
        assert d["image"] == f"{name}_completion.png"
        ends = d["contextual_loss_end"]
        assert len(ends) == 3 and len(d["contextual_loss_start"]) == 3 and sorted(d["ranking"]) == [0, 1, 2]
        assert [ends[i] for i in d["ranking"]] == sorted(ends) and d["best_contextual_loss"] == min(ends)
        picture = data.read_image(out / d["image"])
        assert picture.shape == (4 * 36, 4 * (4 * 34 + 2), 3)  # sketch + 3 completions of 32 px, 2-px gaps, enlarged 4×
    assert sorted(p.name for p in out.iterdir()) == ["chalk_completion.png", "example_drawing_completion.png", "metrics.json"]


def test_complete_sketch_bad_files_are_named_before_any_output(tiny_run, tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((64, 64), 255, np.uint8))
    cv2.imwrite(str(tmp_path / "good.png"), face())
    out = tmp_path / "out"
    files = [str(tmp_path / n) for n in ("good.png", "notes.png", "blank.png", "missing.png")]
    assert main(["complete", "--checkpoint", str(tiny_run), "--sketch", *files, "--iters", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: 3 of 4 drawings cannot be completed")
    for name in ("notes.png could not be decoded", "blank.png has no lines", "missing.png: No such file"):
        assert name in err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--data", "faces"], "give one or the other"),
    (["--n", "5"], "give one or the other"),
    (["--known", "photo"], "--known photo does not apply"),
    (["--top-k", "0"], "--top-k must be >= 1"),
])
def test_complete_sketch_conflicting_options(tiny_run, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["complete", "--checkpoint", str(tiny_run), "--sketch", str(EXAMPLE), "--iters", "2", *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_complete_sketch_same_name_twice(tiny_run, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    cv2.imwrite(str(tmp_path / "a" / "example_drawing.png"), face())
    assert main(["complete", "--checkpoint", str(tiny_run), "--sketch", str(EXAMPLE), str(tmp_path / "a" / "example_drawing.png"),
                 "--iters", "2", "--out", str(tmp_path / "out")]) == 2
    assert "share a name" in capsys.readouterr().err


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="unknown sketch style 'pencil'"):
        data.prepare_drawing(face(), 32, style="pencil")
