"""How long the classroom grader takes for one student's three assignments (the bar: 60 s on
2 CPU cores), against the time of running the same three solution notebooks plainly.

Releases the key into a temporary folder, grades the solution notebooks as one student's
submission, runs the same notebooks once with nbclient (no isolation, no tests in separate
processes), and prints both times and their ratio.

    python benchmarks/grading.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "book" / "assignments" / "classroom.py"
BAR_SECONDS = 60


def run(*args) -> str:
    done = subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"classroom.py {args[0]} failed:\n{done.stderr}")
    return done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        run("release", "--out", tmp / "handout", "--key", tmp / "key")
        print(f"release (the key: the solutions graded once): {time.perf_counter() - t0:.0f} s")
        student = tmp / "submissions" / "student"
        student.mkdir(parents=True)
        for path in sorted((ROOT / "book" / "assignments").glob("*.ipynb")):
            shutil.copy(path, student / path.name)
        t0 = time.perf_counter()
        out = run("grade", tmp / "submissions", "--key", tmp / "key", "--out", tmp / "grades.csv")
        wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    for path in sorted((ROOT / "book" / "assignments").glob("*.ipynb")):
        nbclient.NotebookClient(nbformat.read(path, as_version=4), timeout=600,
                                resources={"metadata": {"path": str(path.parent)}}).execute()
    plain = time.perf_counter() - t0
    per = re.findall(r"^student/(\S+)\.ipynb: (\S+) points \((\d+) s\)$", out, re.M)
    for name, points, seconds in per:
        print(f"  {name:<20} {points:>6} points  {seconds:>4} s")
    total = sum(int(s) for _, _, s in per)
    print(f"three assignments for one student: {total} s by the grader's clock, {wall:.0f} s wall "
          f"(bar {BAR_SECONDS} s): {'met' if wall <= BAR_SECONDS else 'NOT met'}")
    print(f"the same notebooks run plainly: {plain:.0f} s; the grader takes {wall / plain:.2f}x that")


if __name__ == "__main__":
    main()
