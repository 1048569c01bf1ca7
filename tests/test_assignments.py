"""The classroom assignments (book/assignments): solution notebooks, student copies, the grader.

The grader runs for real, once for a class of fake students (session fixture ``graded``):
the solutions as a student, the released student copies, a wrong submission (argmin → argmax)
with two notebooks missing, and an unreadable notebook; and once more with a short time limit
for a notebook that hangs (fixture ``hung``).
"""

import csv
import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).parent.parent
BOOK = ROOT / "book"
FOLDER = BOOK / "assignments"
TOOL = FOLDER / "classroom.py"
_spec = importlib.util.spec_from_file_location("classroom", TOOL)
classroom = sys.modules["classroom"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(classroom)

SOLUTIONS = classroom.solution_notebooks()
NAMES = [p.name for p in SOLUTIONS]
CONFIG = yaml.safe_load((BOOK / "_config.yml").read_text())
HANG_LIMIT = 20  # seconds per notebook in the hanging run: the first test of 01_xdog needs ~3 s


def _read(path):
    return nbformat.read(path, as_version=4)


def _tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def _regions(source, begin, end):
    """The lines between each begin … end marker pair."""
    lines, inside = [], False
    for line in source.splitlines():
        inside = (inside or line.strip() == begin) and line.strip() != end
        if inside and line.strip() != begin:
            lines.append(line)
    return lines


def _solution_lines(cell):
    if classroom.BEGIN_SOLUTION in cell.source:
        return _regions(cell.source, classroom.BEGIN_SOLUTION, classroom.END_SOLUTION)
    return cell.source.splitlines()  # a whole-cell answer


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _grade(submissions, out, timeout):
    t0 = time.perf_counter()
    done = _tool("grade", submissions, "--out", out, "--timeout", timeout)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    rows = _read_csv(out)
    totals = {(r["student"], r["assignment"]): r for r in _read_csv(out.with_name(f"{out.stem}_totals.csv"))}
    return rows, totals, seconds


def _rows(rows, student, assignment=None):
    return [r for r in rows if r["student"] == student and assignment in (None, r["assignment"])]


def _auto(rows):
    return [r for r in rows if not r["status"].startswith("manual")]


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    done = _tool("release", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def graded(tmp_path_factory, released):
    subs = tmp_path_factory.mktemp("submissions")
    for student in ("solution", "student", "wrong", "unreadable"):
        (subs / student).mkdir()
    for path in SOLUTIONS:
        (subs / "solution" / path.name).write_text(path.read_text())
        (subs / "student" / path.name).write_text((released / path.name).read_text())
    wrong = _read(FOLDER / "03_initialization.ipynb")  # 01 and 02 missing
    cell = next(c for c in wrong.cells if classroom.nbgrader(c).get("grade_id") == "best_of_n")
    assert "losses.argmin(dim=1)" in cell.source
    cell.source = cell.source.replace("losses.argmin(dim=1)", "losses.argmax(dim=1)")
    nbformat.write(wrong, subs / "wrong" / "03_initialization.ipynb")
    (subs / "unreadable" / "01_xdog.ipynb").write_text('{"cells": [')
    return _grade(subs, tmp_path_factory.mktemp("grades") / "grades.csv", timeout=120)


@pytest.fixture(scope="session")
def hung(tmp_path_factory):
    """01_xdog with a cell that never ends after its first test; then a student graded after it."""
    subs = tmp_path_factory.mktemp("hanging")
    nb = _read(FOLDER / "01_xdog.ipynb")
    first_test = next(i for i, c in enumerate(nb.cells) if classroom.nbgrader(c).get("grade"))
    nb.cells.insert(first_test + 1, nbformat.v4.new_code_cell("import time\ntime.sleep(10**6)"))
    for student in ("hangs", "next"):
        (subs / student).mkdir()
    nbformat.write(nb, subs / "hangs" / "01_xdog.ipynb")
    (subs / "next" / "01_xdog.ipynb").write_text((FOLDER / "01_xdog.ipynb").read_text())
    return _grade(subs, tmp_path_factory.mktemp("grades") / "grades.csv", timeout=HANG_LIMIT)


# ---------------------------------------------------------------- the solution notebooks
def test_three_assignments_in_the_teachers_part_of_the_book():
    assert len(NAMES) >= 3
    part = next(p for p in yaml.safe_load((BOOK / "_toc.yml").read_text())["parts"] if p["caption"] == "For teachers")
    files = [c["file"] for c in part["chapters"]]
    assert files == ["teachers", *(f"assignments/{Path(n).stem}" for n in NAMES)]
    assert (BOOK / "teachers.md").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_notebook_shape_and_hygiene(name):
    nb = _read(FOLDER / name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "**Goal.**" in nb.cells[0].source and "**Runtime" in nb.cells[0].source
    assert 'if "google.colab" in sys.modules:' in code[0].source
    assert f"git+{CONFIG['repository']['url']}" in code[0].source
    text = "\n".join(c.source for c in code)
    assert "import cgan_minimal" in text and "cgan_minimal.set_seed(0)" in text
    assert "widgets" not in nb.metadata
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs stored"


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_metadata(name):
    cells = [c for c in _read(FOLDER / name).cells if classroom.nbgrader(c)]
    ids = [classroom.nbgrader(c)["grade_id"] for c in cells]
    assert len(ids) == len(set(ids)), f"{name}: grade_ids repeat"
    tests = [c for c in cells if classroom.nbgrader(c)["grade"] and not classroom.nbgrader(c)["solution"]]
    assert tests, f"{name}: no test cells"
    for cell in cells:
        meta = classroom.nbgrader(cell)
        assert meta["schema_version"] == 3 and {"grade", "solution", "locked", "grade_id"} <= set(meta)
        if meta["grade"]:
            assert meta["points"] > 0
        if meta["solution"] and cell.cell_type == "code":
            assert classroom.BEGIN_SOLUTION in cell.source and "hide-input" in cell.metadata["tags"]
        if meta["solution"] and cell.cell_type == "markdown":  # shown on the site in a dropdown only
            assert ":class: dropdown" in cell.source
    for cell in tests:
        assert classroom.BEGIN_HIDDEN in cell.source and "remove-cell" in cell.metadata["tags"]


def test_regions_become_indented_stubs():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nprint(f)"
    assert classroom.replace_regions(source, classroom.BEGIN_SOLUTION, classroom.END_SOLUTION, classroom.CODE_STUB) == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f)"
    )
    with pytest.raises(ValueError, match="without"):
        classroom.replace_regions("### BEGIN SOLUTION\nx = 1", classroom.BEGIN_SOLUTION, classroom.END_SOLUTION, "")



def test_the_grader_puts_back_its_tests_and_notices_a_deleted_one():
    solution = _read(FOLDER / "01_xdog.ipynb")
    tests = classroom.tests_of(solution)
    submission = _read(FOLDER / "01_xdog.ipynb")
    ids = [classroom.nbgrader(c).get("grade_id") for c in submission.cells]
    submission.cells[ids.index(tests[0].grade_id)].source = "pass  # a weakened test"
    del submission.cells[ids.index(tests[1].grade_id)]
    where = classroom.with_solution_tests(submission, tests)
    assert tests[1].grade_id not in where
    assert submission.cells[where[tests[0].grade_id]].source == tests[0].source  # hidden tests included

# ---------------------------------------------------------------- the student copies
@pytest.mark.parametrize("name", NAMES)
def test_student_copies_hold_no_solutions_and_no_hidden_tests(released, name):
    solution, student = _read(FOLDER / name), _read(released / name)
    assert len(student.cells) == len(solution.cells)
    text = "\n".join(c.source for c in student.cells)
    secret = []
    for cell in solution.cells:
        if classroom.nbgrader(cell).get("solution"):
            secret += _solution_lines(cell)
        secret += _regions(cell.source, classroom.BEGIN_HIDDEN, classroom.END_HIDDEN)
    assert secret
    for line in (s.strip() for s in secret):
        if re.search(r"\w", line):  # lines such as ")" or "}" are no secret
            assert line not in text, f"{name}: the student copy shows {line!r}"
    for marker in (classroom.BEGIN_SOLUTION, classroom.BEGIN_HIDDEN, classroom.END_HIDDEN):
        assert marker not in text
    assert "raise NotImplementedError()" in text
    for cell in student.cells:
        assert not classroom.SITE_TAGS & set(cell.metadata.get("tags", []))
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if classroom.nbgrader(cell).get("solution") and cell.cell_type == "markdown":
            assert cell.source == classroom.TEXT_STUB


@pytest.mark.parametrize("name", NAMES)
def test_student_copies_run_up_to_the_first_stub(released, name):
    nb = _read(released / name)
    with pytest.raises(CellExecutionError) as error:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(released)}}).execute()
    assert error.value.ename == "NotImplementedError", f"{name}: the first error is {error.value.ename}, not a stub"
    ran = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    assert len(ran) >= 3  # the install and set-up cells ran before the stub raised
    assert all(o.output_type != "error" for c in ran[:-1] for o in c.outputs)


# ---------------------------------------------------------------- grading
def test_solutions_score_full_marks(graded):
    rows, totals, _ = graded
    assert list(rows[0]) == classroom.FIELDS
    mine = _rows(rows, "solution")
    assert {r["assignment"] for r in mine} == {Path(n).stem for n in NAMES}
    for r in _auto(mine):
        assert (r["points"], r["status"]) == (r["max_points"], "passed"), r
    assert totals["solution", "total"]["percent"] == "100.0"
    manual = [r for r in mine if r["status"].startswith("manual")]
    assert manual and all(r["points"] == "" for r in manual)  # written answers: the teacher's part


def test_student_copies_score_zero_without_crashing_the_grader(graded):
    rows, totals, _ = graded
    mine = _auto(_rows(rows, "student"))
    assert mine and all(r["points"] == "0" and r["status"].startswith("failed: ") for r in mine)
    assert any("NotImplementedError" in r["status"] for r in mine)
    assert totals["student", "total"]["points"] == "0"


def test_a_wrong_submission_loses_exactly_the_points_of_its_test(graded):
    rows, totals, _ = graded
    wrong = {r["test"]: r for r in _auto(_rows(rows, "wrong", "03_initialization"))}
    right = {r["test"]: r for r in _auto(_rows(rows, "solution", "03_initialization"))}
    assert wrong["test_best_of_n"]["points"] == "0" and wrong["test_best_of_n"]["status"].startswith("failed: AssertionError")
    assert {t: r["points"] for t, r in wrong.items() if t != "test_best_of_n"} == {t: r["points"] for t, r in right.items() if t != "test_best_of_n"}
    lost = float(totals["solution", "03_initialization"]["points"]) - float(totals["wrong", "03_initialization"]["points"])
    assert lost == float(right["test_best_of_n"]["max_points"])


def test_missing_and_unreadable_notebooks_score_zero(graded):
    rows, totals, _ = graded
    for student, assignment, status in (("wrong", "01_xdog", "missing"), ("wrong", "02_projection", "missing"),
                                        ("unreadable", "01_xdog", "unreadable"), ("unreadable", "03_initialization", "missing")):
        mine = _rows(rows, student, assignment)
        assert mine and all(r["points"] == "0" and r["status"].startswith(status) for r in mine), mine
    assert totals["unreadable", "total"]["points"] == "0"
    assert totals["unreadable", "total"]["max_points"] == totals["solution", "total"]["max_points"]


def test_a_hanging_notebook_is_cut_off_at_the_limit(hung):
    rows, totals, seconds = hung
    tests = _rows(rows, "hangs", "01_xdog")
    assert tests[0]["status"] == "passed"  # the test before the hanging cell
    for r in tests[1:]:
        assert r["points"] == "0" and r["status"].startswith("not run: time limit"), r
    assert seconds < 2 * HANG_LIMIT + 15, f"the grader took {seconds:.0f} s"
    assert totals["next", "01_xdog"]["percent"] == "100.0"  # and the grader went on


def test_bad_arguments_name_the_problem(tmp_path):
    missing = tmp_path / "nowhere"
    for args, message in (
        (("grade", missing, "--out", tmp_path / "g.csv"), f"submissions folder {missing} does not exist"),
        (("grade", tmp_path, "--out", tmp_path / "g.csv"), "no student folders"),
        (("grade", tmp_path, "--out", tmp_path / "g.csv", "--timeout", "0"), "--timeout must be > 0"),
        (("release", missing / "a.ipynb", "--out", tmp_path), "no such notebook"),
        (("release", "--out", FOLDER), "would overwrite"),
    ):
        done = _tool(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)


def test_release_of_one_notebook(tmp_path):
    done = _tool("release", FOLDER / NAMES[0], "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == [NAMES[0]]
