"""``torchrun … tests/ddp_probe.py ARGS``: ``python -m cgan_minimal ARGS``, recording the files
every process other than process 0 creates, changes, renames or removes under $PROBE_ROOT
(written to $PROBE_ROOT/../writes_rank{R}.txt at exit). Used by tests/test_distributed.py."""

import atexit
import os
import sys
from pathlib import Path

ROOT = os.path.realpath(os.environ["PROBE_ROOT"])
RANK = int(os.environ.get("RANK", "0"))
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
writes: list[str] = []


def _under_root(path) -> bool:
    try:
        return os.path.realpath(os.fsdecode(path)).startswith(ROOT)
    except (TypeError, ValueError):
        return False


def hook(event, args):
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & WRITE_FLAGS)
        if writing and _under_root(path):
            writes.append(f"open {path}")
    elif event in ("os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.truncate", "shutil.rmtree"):
        if _under_root(args[0]):
            writes.append(f"{event} {args[0]}")


def report():
    Path(ROOT).parent.joinpath(f"writes_rank{RANK}.txt").write_text("\n".join(writes))


if RANK != 0:
    sys.addaudithook(hook)
    atexit.register(report)  # runs after the hook's last record; its own write is outside ROOT

from cgan_minimal.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
