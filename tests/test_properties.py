"""Property-based tests: careless and hostile input to the sketch, joint-image and file functions.

Each function either returns a defined result (the right shape, dtype and value range, finite)
or raises a ValueError with a message; never another exception, and never a half-written file.
Images are small so that the whole file runs in well under a minute on one core.
"""

import tempfile
import warnings
import zlib
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cgan_minimal import data, xdog

PROPERTY = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(PROPERTY, max_examples=40)  # for the slower properties (files, fdog)

DTYPES = [np.uint8, np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint16, np.float16]
SPECIAL = [0.0, 1.0, 255.0, 0.5, -1.0, np.nan, np.inf, -np.inf]  # constant images; NaN and inf only for floats


@pytest.fixture(autouse=True, scope="module")
def quiet_opencv():
    """Corrupt files are expected here: keep OpenCV's decoder messages out of the output."""
    log = cv2.utils.logging
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    yield
    log.setLogLevel(level)


# ---------------------------------------------------------------- strategies
def _constant(shape, dtype, value) -> np.ndarray:
    if not np.issubdtype(dtype, np.floating):
        value = 0 if not np.isfinite(value) or value < 0 else value
    return np.full(shape, value).astype(dtype)


@st.composite
def shapes(draw, max_side=10):
    """Image-like shapes (H, W), (H, W, 3), (N, H, W, 3) as well as any shape of 0 to 4 dimensions."""
    side = st.integers(0, max_side)
    return draw(st.one_of(
        st.tuples(side, side),
        st.tuples(side, side, st.sampled_from([1, 2, 3, 4])),
        st.tuples(st.integers(0, 3), side, side, st.just(3)),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=max_side),
    ))


@st.composite
def arrays(draw, shape=None):
    """Any array: random values, a constant image (all 0, all 255, NaN, inf, …) or random bytes, in any dtype."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(shape or shapes())
    kind = draw(st.sampled_from(["values", "constant", "bytes"]))
    if kind == "constant":
        return _constant(shape, dtype, draw(st.sampled_from(SPECIAL)))
    if kind == "bytes":
        n = int(np.prod(shape))
        raw = np.frombuffer(draw(st.binary(min_size=n * dtype.itemsize, max_size=n * dtype.itemsize)), np.uint8)
        return (raw != 0).reshape(shape) if dtype == np.bool_ else raw.view(dtype).reshape(shape)
    return draw(hnp.arrays(dtype, shape))


@st.composite
def valid_images(draw, max_side=12):
    """Images every sketch style must accept: uint8 or float in [0, 1], gray or RGB, 1…max_side pixels a side."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    shape = draw(st.sampled_from([(h, w), (h, w, 3), (h, w, 1)]))
    if draw(st.booleans()):
        return draw(hnp.arrays(np.uint8, shape))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    image = draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
    return image if draw(st.booleans()) else _constant(shape, dtype, draw(st.sampled_from([0.0, 1.0])))


strengths = st.one_of(st.floats(0, 1e6), st.sampled_from([np.nan, np.inf, -np.inf, -1.0, -1e-9, 0.0, 1.0]), st.integers(-2, 5))


def outcome(f, *args, **kwargs):
    """``f(*args, **kwargs)``, or None when it raised a ValueError with a message; any other exception fails."""
    try:
        return f(*args, **kwargs)
    except ValueError as e:
        assert str(e).strip(), f"{f.__name__} raised a ValueError without a message"
        return None


def same(a, b) -> bool:
    """The same shape and the same bytes (NaN equals NaN); numpy arrays or tensors."""
    a, b = (x.numpy() if isinstance(x, torch.Tensor) else x for x in (a, b))
    return a.shape == b.shape and a.dtype == b.dtype and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def assert_sketch(s, shape):
    assert isinstance(s, np.ndarray) and s.dtype == np.float32 and s.shape == tuple(shape)
    assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()


# ---------------------------------------------------------------- sketches
@PROPERTY
@given(image=arrays(), style=st.sampled_from(xdog.STYLES))
def test_sketch_of_any_array_is_a_sketch_or_a_value_error(image, style):
    s = outcome(xdog.sketch, image, style)
    if s is not None:
        assert_sketch(s, image.shape[:2])


@PROPERTY
@given(image=valid_images(), style=st.sampled_from(xdog.STYLES))
def test_sketch_of_a_valid_image_is_a_sketch(image, style):
    s = xdog.sketch(image, style)
    assert_sketch(s, image.shape[:2])
    if image.min() == image.max():  # a flat image is blank paper
        assert (s > 0.99).all()


@PROPERTY
@given(style=st.sampled_from(xdog.STYLES), value=st.one_of(st.floats(-1e30, 1e30), st.sampled_from([np.nan, np.inf, -np.inf, "1", None]), st.integers(-3, 3)))
def test_sketch_parameters_are_checked(style, value):
    name = {"xdog": "eps", "photocopy": "darkness", "fdog": "eps"}[style]  # a threshold: any finite value is allowed
    image = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    s = outcome(xdog.sketch, image, style, **{name: value})
    if s is None:
        assert not (isinstance(value, (int, float)) and np.isfinite(value))
    else:
        assert_sketch(s, (8, 8))
    for positive in {"xdog": ["sigma", "k", "phi"], "photocopy": ["detail"], "fdog": ["sigma_c", "sigma_m", "etf_radius"]}[style]:
        with pytest.raises(ValueError, match=positive):
            xdog.sketch(image, style, **{positive: np.nan if positive != "etf_radius" else 2.5})


# ---------------------------------------------------------------- perturbed sketches
@PROPERTY
@given(image=arrays(), strength=strengths, seed=st.integers(0, 2**32))
def test_perturb_any_array_is_a_sketch_or_a_value_error(image, strength, seed):
    s = outcome(xdog.perturb, image, strength, seed=seed)
    if s is not None:
        assert_sketch(s, image.shape)


@PROPERTY
@given(image=valid_images(max_side=16), strength=st.floats(0, 3), seed=st.integers(0, 2**32))
def test_perturb_a_valid_sketch(image, strength, seed):
    gray = image[..., 0] if image.ndim == 3 else image
    s = xdog.perturb(gray, strength, seed=seed)
    assert_sketch(s, gray.shape)
    if strength == 0:
        np.testing.assert_array_equal(s, gray.astype(np.float32) / (255 if gray.dtype == np.uint8 else 1))
    np.testing.assert_array_equal(s, xdog.perturb(gray, strength, seed=seed))


@st.composite
def joints(draw):
    """Valid uint8 joint images (N, s, 2s, 3), N from 0, s from 1."""
    n, s = draw(st.integers(0, 3)), draw(st.integers(1, 8))
    return draw(hnp.arrays(np.uint8, (n, s, 2 * s, 3)))


@PROPERTY
@given(images=st.one_of(arrays(), joints()), strength=strengths, seed=st.integers(0, 1000))
def test_perturb_sketches_keeps_shape_dtype_and_photos(images, strength, seed):
    out = outcome(data.perturb_sketches, images, strength, seed=seed)
    if out is None:
        return
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(data.split(out)[1], data.split(images)[1])


@PROPERTY
@given(images=joints(), strength=st.floats(0, 2))
def test_perturb_sketches_accepts_every_joint_image(images, strength):
    out = data.perturb_sketches(images, strength, seed=1)
    assert out.shape == images.shape and out.dtype == np.uint8


# ---------------------------------------------------------------- join, split, mask
TORCH_DTYPES = [np.uint8, np.float32, np.float64, np.int32, np.int64, np.bool_]


@PROPERTY
@given(a=hnp.arrays(st.sampled_from(TORCH_DTYPES), hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=6)), as_tensor=st.booleans())
def test_split_undoes_join(a, as_tensor):
    b = np.flip(a).copy()
    if as_tensor:
        a, b = torch.from_numpy(a), torch.from_numpy(b)
    joint = data.join(a, b)
    axis = a.ndim - 1 if as_tensor else (1 if a.ndim < 4 else 2)
    assert joint.shape[axis] == 2 * a.shape[axis] and joint.dtype == a.dtype
    left, right = data.split(joint)
    assert same(left, a) and same(right, b)


@PROPERTY
@given(x=arrays(), as_tensor=st.booleans())
def test_split_any_array_gives_halves_that_join_back(x, as_tensor):
    if as_tensor and x.dtype in TORCH_DTYPES:
        x = torch.from_numpy(x.copy())
    halves = outcome(data.split, x)
    if halves is not None:
        assert same(data.join(*halves), x)


@PROPERTY
@given(a=arrays(), b=arrays(), b_tensor=st.booleans())
def test_join_any_pair_is_a_joint_image_or_a_value_error(a, b, b_tensor):
    b = torch.from_numpy(b.copy()) if b_tensor and b.dtype in TORCH_DTYPES else b
    joint = outcome(data.join, a, b)
    if joint is not None:
        assert isinstance(joint, np.ndarray) and joint.dtype == a.dtype and joint.ndim == a.ndim
    for not_an_image in ([[0, 1]], 3, None, "image"):
        assert outcome(data.join, not_an_image, b) is None and outcome(data.split, not_an_image) is None


@PROPERTY
@given(known=st.one_of(st.sampled_from(["sketch", "photo"]), st.text(max_size=6), st.none()),
       height=st.one_of(st.integers(-3, 12), st.floats(-2, 12), st.none(), st.booleans()),
       width=st.one_of(st.integers(-3, 24), st.floats(-2, 24), st.none(), st.booleans()))
def test_mask_is_binary_and_covers_the_known_half(known, height, width):
    m = outcome(data.mask, known, height, width)
    if m is None:
        return
    assert m.shape == (1, 1, height, width) and m.dtype == torch.float32
    left = 1.0 if known == "sketch" else 0.0
    assert (m[..., : width // 2] == left).all() and (m[..., width // 2 :] == 1 - left).all()


# ---------------------------------------------------------------- image files
def _chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _png(width: int, height: int, tail: bytes = b"", color_type: int = 2) -> bytes:
    """A PNG signature and a valid IHDR chunk for ``width × height`` (8-bit), then ``tail``."""
    return data.PNG_SIGNATURE + _chunk(b"IHDR", width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, color_type, 0, 0, 0])) + tail


headers = st.one_of(
    st.just(b""),
    st.just(data.PNG_SIGNATURE),
    st.builds(_png, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.builds(_png, st.integers(1, 64), st.integers(1, 32)),
    st.just(b"\xff\xd8"),
    st.builds(lambda h, w: b"\xff\xd8\xff\xc0\x00\x11\x08" + h.to_bytes(2, "big") + w.to_bytes(2, "big") + b"\x03", st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1)),
    st.just(b"BM"),
    st.builds(lambda w, h: b"BM" + bytes(12) + (40).to_bytes(4, "little") + w.to_bytes(4, "little", signed=True) + h.to_bytes(4, "little", signed=True),
              st.integers(-2**31, 2**31 - 1), st.integers(-2**31, 2**31 - 1)),
)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _read_all(folder: Path, paths):
    """read_joint on each file and load_folder on the folder (without its cache, which
    tests/test_folder_cache.py covers), checking the results and that no file appeared. Returns
    what load_folder gave (None for a ValueError) and the warnings it gave."""
    before = _files(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            joint = outcome(data.read_joint, path)
            if joint is not None:
                assert joint.dtype == np.uint8 and joint.ndim == 3 and joint.shape[1] == 2 * joint.shape[0] and joint.shape[2] == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = outcome(data.load_folder, folder, cache=False)
    if loaded is not None:
        assert loaded.images.dtype == np.uint8 and loaded.images.shape[0] == len(paths)
    assert _files(folder) == before
    return loaded, caught


@PROPERTY
@given(head=headers, tail=st.binary(max_size=400), suffix=st.sampled_from(data.IMAGE_SUFFIXES))
def test_random_bytes_as_image_files(head, tail, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"x{suffix}"
        path.write_bytes(head + tail)
        _read_all(Path(d), [path])


@st.composite
def image_files(draw, joint=None):
    """``(suffix, pixels)``: a random image to write with OpenCV, PNG (gray/BGR/BGRA, 8 or 16 bit), JPEG or BMP."""
    suffix = draw(st.sampled_from([".png", ".png", ".jpg", ".bmp"]))
    h = draw(st.integers(1, 10))
    w = 2 * h if (joint if joint is not None else draw(st.booleans())) else draw(st.integers(1, 20))
    channels = draw(st.sampled_from([1, 3, 4] if suffix == ".png" else [1, 3]))
    dtype = draw(st.sampled_from([np.uint8, np.uint16])) if suffix == ".png" else np.uint8
    shape = (h, w) if channels == 1 else (h, w, channels)
    if draw(st.booleans()):
        return suffix, draw(hnp.arrays(dtype, shape))
    return suffix, np.full(shape, draw(st.sampled_from([0, np.iinfo(dtype).max])), dtype)


def _expected_rgb(pixels: np.ndarray) -> np.ndarray:
    """What read_image should give for pixels written as PNG: RGB, composited on white, 8 bits."""
    top = float(np.iinfo(pixels.dtype).max)
    x = (pixels if pixels.ndim == 3 else pixels[:, :, None]).astype(np.float64) / top
    if x.shape[2] == 4:
        x = x[:, :, :3] * x[:, :, 3:] + (1 - x[:, :, 3:])
    x = np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x[:, :, ::-1]
    return x * 255


def _encode(suffix: str, pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(suffix, pixels)
    assert ok
    return encoded.tobytes()


@FEW
@given(files=st.lists(image_files(), min_size=1, max_size=3))
def test_valid_images_of_random_sizes(files):
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, (suffix, pixels) in enumerate(files):
            paths.append(Path(d) / f"{i}{suffix}")
            paths[-1].write_bytes(_encode(suffix, pixels))
        for path, (suffix, pixels) in zip(paths, files):
            h, w = pixels.shape[:2]
            transparent = pixels.ndim == 3 and pixels.shape[2] == 4 and (pixels[:, :, 3] < np.iinfo(pixels.dtype).max).any()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                joint = outcome(data.read_joint, path)
            assert len(caught) == (1 if transparent and joint is not None else 0)
            if w != 2 * h:
                assert joint is None
                continue
            assert joint is not None and joint.shape == (h, w, 3) and joint.dtype == np.uint8
            if suffix == ".png":
                assert np.abs(joint - _expected_rgb(pixels)).max() <= 0.5 + 1e-4
        loaded, caught = _read_all(Path(d), paths)
        same_size = all(p.shape[1] == 2 * p.shape[0] == 2 * files[0][1].shape[0] for _, p in files)
        assert (loaded is not None) == same_size
        transparent = [i for i, (_, p) in enumerate(files) if p.ndim == 3 and p.shape[2] == 4 and (p[:, :, 3] < np.iinfo(p.dtype).max).any()]
        if loaded is not None:  # one warning for the whole folder, naming the first file with transparent pixels
            assert len(caught) == (1 if transparent else 0)
            assert not transparent or str(paths[transparent[0]]) in str(caught[0].message)


@FEW
@given(file=image_files(joint=True), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_files_are_refused(file, cut):
    suffix, pixels = file
    encoded = _encode(suffix, pixels)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"cut{suffix}"
        path.write_bytes(encoded[: int(cut * len(encoded))])
        with pytest.raises(ValueError, match="cut"):
            data.read_joint(path)
        assert _read_all(Path(d), [path])[0] is None


sides = st.one_of(st.integers(1, 2**31 - 1), st.integers(1, 4096))


@PROPERTY
@given(h=sides, w=sides)
def test_oversized_png_headers_are_refused_before_decoding(h, w):
    with tempfile.TemporaryDirectory() as d, mock.patch.object(cv2, "imdecode", side_effect=AssertionError("decoded")) as imdecode:
        path = Path(d) / "big.png"
        path.write_bytes(_png(w, h, tail=_chunk(b"IDAT", zlib.compress(bytes(64))) + _chunk(b"IEND", b"")))
        if h * w > data.MAX_IMAGE_PIXELS:
            with pytest.raises(ValueError, match=f"big.png is ({h}×{w} pixels|refused before decoding: Image size)"):  # the latter: Pillow's own limit
                data.read_joint(path)
            assert not imdecode.called
        else:  # within the limit the header is accepted and the pixels are decoded
            with pytest.raises(AssertionError, match="decoded"):
                data.read_joint(path)


@FEW
@given(images=st.one_of(arrays(), joints()))
def test_save_folder_writes_everything_or_nothing(images):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "out"
        written = outcome(data.save_folder, images, folder)
        if written is None:
            assert not folder.exists() or _files(folder) == []
        else:
            assert _files(folder) == [p.name for p in written] and len(written) == len(images)
            if len(images):
                np.testing.assert_array_equal(data.load_folder(folder).images, images)
