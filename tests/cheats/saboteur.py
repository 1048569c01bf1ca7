# Overwrite another student's submission before it is graded (students are graded in name
# order). The test writes the victim's path into VICTIM, as a student would know where the
# class hands in; the grader's command line would tell too.
import os
from pathlib import Path

VICTIM = None
try:
    argv = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().split(b"\0")
    VICTIM = Path(argv[argv.index(b"grade") + 1].decode()) / "solution" / "01_xdog.ipynb"
except (OSError, ValueError) as e:
    print("no command line:", e)
Path(VICTIM).write_text('{"cells": [')
