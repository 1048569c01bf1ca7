"""Classroom assignments: student copies from the solution notebooks, and an autograder.

    python book/assignments/classroom.py release --out DIR [NOTEBOOK ...]
    python book/assignments/classroom.py grade SUBMISSIONS --out grades.csv [--timeout 120]

The notebooks beside this file are the solutions. They mark their parts with the nbgrader
conventions, so a course that uses nbgrader can take them as they are:

* a solution cell (``"nbgrader": {"solution": true, ...}`` in its metadata) holds its answer
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (or is an answer as a whole);
* a test cell (``"grade": true, "solution": false``, with ``grade_id`` and ``points``) holds
  visible tests and, between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, tests
  the students never see;
* a cell with ``"grade": true, "solution": true`` is a written answer, graded by the teacher.

``release`` writes the student copies: every solution region replaced by a stub (code:
``raise NotImplementedError()``; text: ``...``), hidden tests removed, outputs cleared.

``grade`` reads ``SUBMISSIONS/<student>/<assignment>.ipynb``, puts the solution notebooks' test
cells (hidden tests included) in place of the cells with the same ``grade_id``, runs every
notebook in a fresh kernel with a time limit per notebook, and gives each test cell its points
if it runs without error. It writes one CSV row per student, assignment and test, and a second
CSV (``<out>_totals.csv``) with the points per student and assignment. A missing, unreadable,
crashing or hanging notebook scores 0 for the tests it could not pass; the grader goes on.
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

HERE = Path(__file__).parent
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "..."
SITE_TAGS = {"hide-input", "remove-input", "remove-cell"}  # hide the answers on the book's site only
FIELDS = ["student", "assignment", "test", "points", "max_points", "status"]
TOTAL_FIELDS = ["student", "assignment", "points", "max_points", "percent"]


def solution_notebooks(folder: Path = HERE) -> list[Path]:
    """The solution notebooks of a folder, in file-name order."""
    return sorted(folder.glob("*.ipynb"))


def nbgrader(cell: nbformat.NotebookNode) -> dict:
    """A cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.metadata.get("nbgrader", {})


# ---------------------------------------------------------------- release
def replace_regions(source: str, begin: str, end: str, stub: str | None) -> str:
    """``source`` with every ``begin`` … ``end`` region replaced by ``stub`` (indented like the
    ``begin`` line), or removed when ``stub`` is None."""
    out, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == begin:
            if inside:
                raise ValueError(f"{begin!r} inside another {begin!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in stub.splitlines()] if stub is not None else []
        elif marker == end:
            if not inside:
                raise ValueError(f"{end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r}")
    return "\n".join(out)


def stub_solution(cell: nbformat.NotebookNode) -> str:
    """The student's version of a solution cell: its regions, or the whole cell, as a stub."""
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    if BEGIN_SOLUTION not in cell.source:
        return stub
    return replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook a student gets: no solutions, no hidden tests, no outputs, no site-only tags."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        try:
            if nbgrader(cell).get("solution") or BEGIN_SOLUTION in cell.source:
                cell.source = stub_solution(cell)
            cell.source = replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)
        except ValueError as e:
            raise ValueError(f"cell {i}: {e}") from None
        tags = [t for t in cell.metadata.get("tags", []) if t not in SITE_TAGS]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    return nb


def release(notebooks: list[Path], out: Path) -> list[Path]:
    """Write the student copy of each solution notebook to ``out`` (same file names)."""
    if any(out.resolve() == nb.resolve().parent for nb in notebooks):
        raise ValueError(f"--out {out} is where the solutions are: the student copies would overwrite them")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        try:
            student = student_copy(nbformat.read(path, as_version=4))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        nbformat.write(student, out / path.name)
        written.append(out / path.name)
    return written


# ---------------------------------------------------------------- grade
@dataclass(frozen=True)
class GradedCell:
    """A graded cell of a solution notebook."""

    grade_id: str
    points: float
    source: str  # the full cell, hidden tests included
    manual: bool  # a written answer the teacher grades


@dataclass(frozen=True)
class Row:
    """One line of the grades CSV; ``points`` is None for an answer the teacher still has to grade."""

    student: str
    assignment: str
    test: str
    points: float | None
    max_points: float
    status: str
    manual: bool  # a written answer: not in the automatic totals


def tests_of(solution: nbformat.NotebookNode) -> list[GradedCell]:
    """The graded cells of a solution notebook, in order."""
    tests = []
    for cell in solution.cells:
        meta = nbgrader(cell)
        if meta.get("grade"):
            if "grade_id" not in meta or "points" not in meta:
                raise ValueError(f"a graded cell without grade_id or points: {cell.source[:60]!r}")
            tests.append(GradedCell(meta["grade_id"], float(meta["points"]), cell.source, bool(meta.get("solution"))))
    return tests


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters (for a CSV cell)."""
    return " ".join(text.split())[:limit]


def _error(cell: nbformat.NotebookNode) -> str | None:
    """'failed: Name: message' if the executed cell raised, else None."""
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return one_line(f"failed: {out.ename}: {out.evalue}" if out.evalue else f"failed: {out.ename}")
    return None


def execute(nb: nbformat.NotebookNode, timeout: float, cwd: Path) -> dict[int, str]:
    """Run the code cells of ``nb`` in order in a fresh kernel, ``timeout`` seconds for all of it.

    A cell that raises does not stop the run. Returns, per code-cell index, "passed",
    "failed: <error>", or why it did not run (time limit, kernel died). On a timeout the kernel
    is killed and the remaining cells are not run.
    """
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(cwd)}})
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    outcome: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    rest = f"not run: time limit of {timeout:g} s per notebook"
    with client.setup_kernel():
        for i in code:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            client.timeout = max(1, math.ceil(left))
            try:
                client.execute_cell(nb.cells[i], i)
            except CellTimeoutError:
                outcome[i] = f"timeout: cut off at the limit of {timeout:g} s per notebook"
                break
            except DeadKernelError:
                outcome[i], rest = "failed: the kernel died", "not run: the kernel died"
                break
            outcome[i] = _error(nb.cells[i]) or "passed"
    return {i: outcome.get(i, rest) for i in code}


def with_solution_tests(nb: nbformat.NotebookNode, tests: list[GradedCell]) -> dict[str, int]:
    """Put each test's full source (hidden tests included) into the submission's code cell of the
    same ``grade_id``. Returns the cell index of each test found in the submission."""
    first: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        grade_id = nbgrader(cell).get("grade_id")
        if grade_id is not None:
            first.setdefault(grade_id, i)
    where = {}
    for test in tests:
        i = first.get(test.grade_id)
        if i is None or (not test.manual and nb.cells[i].cell_type != "code"):
            continue
        if not test.manual:
            nb.cells[i].source = test.source
        where[test.grade_id] = i
    return where


def grade_notebook(path: Path, tests: list[GradedCell], timeout: float) -> list[tuple[GradedCell, float | None, str]]:
    """(test, points, status) for each test of one submitted notebook."""
    if not path.is_file():
        return [(t, 0.0, "missing: no such notebook") for t in tests]
    try:
        nb = nbformat.read(path, as_version=4)
        where = with_solution_tests(nb, tests)
    except Exception as e:  # any broken file: a zero for this notebook, never a crashed grader
        return [(t, 0.0, one_line(f"unreadable: {type(e).__name__}: {e}")) for t in tests]
    try:
        with tempfile.TemporaryDirectory(prefix="grade_") as cwd:
            outcome = execute(nb, timeout, Path(cwd))
    except Exception as e:  # e.g. the kernel did not start
        return [(t, 0.0, one_line(f"not run: {type(e).__name__}: {e}")) for t in tests]
    scores = []
    for t in tests:
        if t.grade_id not in where:
            scores.append((t, 0.0, "failed: the test cell was deleted"))
        elif t.manual:
            scores.append((t, None, "manual: graded by the teacher"))
        else:
            status = outcome[where[t.grade_id]]
            scores.append((t, t.points if status == "passed" else 0.0, status))
    return scores


def students_in(submissions: Path) -> list[Path]:
    """The student folders of a submissions folder (hidden folders skipped)."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"no student folders in {submissions} (expected {submissions}/<student>/<assignment>.ipynb)")
    return students


def grade(submissions: Path, solutions: list[Path], timeout: float = 120) -> list[Row]:
    """Grade every student's copy of every solution notebook; one row per student, assignment, test."""
    if not timeout > 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {timeout:g}")
    if not solutions:
        raise FileNotFoundError("no solution notebooks to grade against")
    tests = {path.name: tests_of(nbformat.read(path, as_version=4)) for path in solutions}
    rows = []
    for student in students_in(submissions):
        for name, its_tests in tests.items():
            t0 = time.perf_counter()
            scores = grade_notebook(student / name, its_tests, timeout)
            rows += [Row(student.name, Path(name).stem, t.grade_id, p, t.points, s, t.manual) for t, p, s in scores]
            got = sum(p or 0 for _, p, _ in scores)
            auto = sum(t.points for t in its_tests if not t.manual)
            print(f"{student.name}/{name}: {got:g}/{auto:g} points ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rows


def totals(rows: list[Row]) -> list[dict]:
    """Points per student and assignment, and per student over all assignments ("total").

    Written answers the teacher grades count in neither ``points`` nor ``max_points``."""
    out, sums = [], {}
    for r in rows:
        if not r.manual:
            for key in ((r.student, r.assignment), (r.student, "total")):
                got, of = sums.get(key, (0.0, 0.0))
                sums[key] = (got + (r.points or 0), of + r.max_points)
    for (student, assignment), (got, of) in sums.items():
        out.append({"student": student, "assignment": assignment, "points": f"{got:g}", "max_points": f"{of:g}",
                    "percent": f"{100 * got / of:.1f}" if of else ""})
    return sorted(out, key=lambda r: (r["student"], r["assignment"] == "total", r["assignment"]))


def write_csvs(rows: list[Row], out: Path) -> tuple[Path, Path]:
    """The grades CSV (one row per test) and ``<out>_totals.csv`` beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([r.student, r.assignment, r.test, "" if r.points is None else f"{r.points:g}", f"{r.max_points:g}", r.status])
    totals_path = out.with_name(f"{out.stem}_totals.csv")
    with open(totals_path, "w", newline="") as f:
        w = csv.DictWriter(f, TOTAL_FIELDS)
        w.writeheader()
        w.writerows(totals(rows))
    return out, totals_path


# ---------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("release", help="write the student copies")
    r.add_argument("notebooks", nargs="*", type=Path, help=f"solution notebooks (default: all in {HERE})")
    r.add_argument("--out", type=Path, required=True, help="folder for the student copies")
    g = sub.add_parser("grade", help="grade a folder of submissions")
    g.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    g.add_argument("--out", type=Path, required=True, help="grades CSV (the totals go to <out>_totals.csv)")
    g.add_argument("--timeout", type=float, default=120, help="seconds per notebook (default 120)")
    g.add_argument("--solutions", type=Path, default=HERE, help=f"folder of the solution notebooks (default {HERE})")
    args = p.parse_args(argv)
    try:
        if args.command == "release":
            for path in args.notebooks:
                if not path.is_file():
                    raise FileNotFoundError(f"no such notebook: {path}")
            for path in release(args.notebooks or solution_notebooks(), args.out):
                print(f"wrote {path}")
        else:
            if not args.solutions.is_dir():
                raise FileNotFoundError(f"solutions folder {args.solutions} does not exist")
            rows = grade(args.submissions, solution_notebooks(args.solutions), args.timeout)
            for path in write_csvs(rows, args.out):
                print(f"wrote {path}")
    except (FileNotFoundError, ValueError) as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
