"""Small helpers shared by the library: seeding, device choice, atomic file writes."""

from __future__ import annotations

import contextlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA): the same seed gives the same numbers on CPU.

    Every chapter calls this once at the top; explained in the preface.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; any other name is passed to :class:`torch.device`."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but torch sees no CUDA GPU")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for, but torch sees no Apple GPU")
    return device


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or an error inside the block leaves no half-written file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _probe(folder: Path) -> None:
    """Create and remove a file in ``folder``: an OSError here names the folder, before any compute."""
    probe = folder / f".write_test{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OSError(e.errno, f"cannot write in {folder} ({e.strerror})", str(folder)) from None


def check_output_folder(path: str | Path) -> Path:
    """Make sure ``path`` is a writable folder or can be created as one; call it before the work.

    Nothing is created: the folder is made when the first file is written, so a run that fails
    on its input leaves no empty folder behind.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output folder {path} is a file, not a folder")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OSError(20, f"cannot create the output folder {path} ({existing} is a file; Not a directory)", str(path))
    _probe(existing)
    return path


def check_output_file(path: str | Path) -> Path:
    """Make sure the file ``path`` can be written (its folder exists or can be made, and is writable)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"output file {path} is a folder")
    check_output_folder(path.parent)
    return path


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporaries of :func:`atomic_path` that a killed process left in ``folder``.

    A temporary ``.NAME.tmpPID.EXT`` is stale when no process PID is running (or it is ours).
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp*"):
        pid = tmp.name.rsplit(".tmp", 1)[1].split(".")[0]
        if pid.isdigit() and not _running(int(pid)) and tmp.is_file():
            tmp.unlink()
            removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover from an earlier call cannot be in use
    if os.name != "posix":
        return True  # no cheap check: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def to_json(obj, **kwargs) -> str:
    """Strict JSON text: NaN and ±inf become null (JSON has no such numbers), numpy scalars become numbers."""

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.floating, np.integer, np.bool_)):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v

    return json.dumps(clean(obj), indent=2, allow_nan=False, **kwargs)
