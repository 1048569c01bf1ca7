"""The classroom assignments (book/assignments): solution notebooks, student copies, key, grader.

The grader runs for real, once for a class of fake students (session fixture ``graded``): the
solutions as a student, the released student copies, a wrong submission (argmin → argmax) with
two notebooks missing, an unreadable notebook, and the cheats of tests/cheats/ on assignment 1;
and once more with a short time limit for a notebook that hangs (fixture ``hung``).
"""

import csv
import importlib
import importlib.util
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).parent.parent
BOOK = ROOT / "book"
FOLDER = BOOK / "assignments"
HANDOUTS = BOOK / "handouts"
CHEATS = Path(__file__).parent / "cheats"
TOOL = FOLDER / "classroom.py"
_spec = importlib.util.spec_from_file_location("classroom", TOOL)
classroom = sys.modules["classroom"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(classroom)

SOLUTIONS = classroom.solution_notebooks()
NAMES = [p.name for p in SOLUTIONS]
CONFIG = yaml.safe_load((BOOK / "_config.yml").read_text())
CHEAT_NAMES = ["transformer", "monkeypatch", "peek", "daemon", "saboteur", "wrapper"]
HANG_LIMIT = 25  # seconds in the hanging run: the first test of 01_xdog needs a few seconds


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


def _secret_lines(nb):
    """The lines of a solution notebook that students must never see: answers, hidden tests, teacher cells."""
    secret = []
    for cell in nb.cells:
        if classroom.nbgrader(cell).get("solution"):
            if classroom.BEGIN_SOLUTION in cell.source:
                secret += _regions(cell.source, classroom.BEGIN_SOLUTION, classroom.END_SOLUTION)
            else:
                secret += cell.source.splitlines()
        if classroom.role(cell) == "teacher":
            secret += cell.source.splitlines()
        secret += _regions(cell.source, classroom.BEGIN_HIDDEN, classroom.END_HIDDEN)
    public = {line.strip() for cell in classroom.student_copy(nb).cells for line in cell.source.splitlines()}
    return [s.strip() for s in secret if len(re.findall(r"\w+", s)) >= 3 and not s.strip().startswith("#") and s.strip() not in public]


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _tree(*roots):
    """path -> (size, mtime) of every file below ``roots``."""
    files = {}
    for root in roots:
        for parent, _, names in os.walk(root):
            for name in names:
                path = Path(parent, name)
                info = path.lstat()
                files[str(path)] = (info.st_size, info.st_mtime_ns)
    return files


def _grade(submissions, out, timeout, key):
    t0 = time.perf_counter()
    done = _tool("grade", submissions, "--key", key, "--out", out, "--timeout", timeout)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    time.sleep(2)  # a process left behind would have rewritten the grades by now
    rows = _read_csv(out)
    totals = {(r["student"], r["assignment"]): r for r in _read_csv(out.with_name(f"{out.stem}_totals.csv"))}
    return {"rows": rows, "totals": totals, "seconds": seconds, "stdout": done.stdout, "out": out,
            "executed": out.with_name(f"{out.stem}_notebooks")}


def _rows(rows, student, assignment=None):
    return [r for r in rows if r["student"] == student and assignment in (None, r["assignment"])]


def _auto(rows):
    """The automatically graded rows (every test cell's grade_id starts with test_)."""
    return [r for r in rows if r["test"].startswith("test_")]


def _cell_index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if classroom.nbgrader(c).get("grade_id") == grade_id)


def _after_setup(nb):
    return next(i for i, c in enumerate(nb.cells) if "faces.render_faces" in c.source) + 1


def _cheat(name, handout, victim):
    """The notebook of one cheat (tests/cheats/<name>.py) on assignment 1."""
    source = (CHEATS / f"{name}.py").read_text()
    if name == "wrapper":
        nb = _read(FOLDER / "01_xdog.ipynb")
        blur, xdog = source.split("# ---\n")
        nb.cells[_cell_index(nb, "blur")].source = blur
        nb.cells[_cell_index(nb, "xdog")].source = xdog
        return nb
    nb = _read(handout)
    if name == "monkeypatch":
        nb.cells[_cell_index(nb, "blur")].source = "def gaussian_blur(gray, sigma):\n    return np.zeros_like(gray)"
        nb.cells[_cell_index(nb, "xdog")].source = (
            "def my_xdog(image, sigma=0.9, k=1.6, tau=0.99, eps=-0.01, phi=200.0):\n"
            "    np.testing.assert_allclose = lambda *a, **k: None\n"
            "    return np.ones(np.shape(image)[:2], dtype=np.float32)")
        nb.cells[_cell_index(nb, "eps")].source = "def eps_for_ink(gray, ink, sigma=0.9, k=1.6, tau=0.99, phi=200.0):\n    return 0.0"
    source = source.replace("VICTIM = None", f"VICTIM = {str(victim)!r}")
    nb.cells.insert(_after_setup(nb), nbformat.v4.new_code_cell(source))
    return nb


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    handout, key = tmp_path_factory.mktemp("handout"), tmp_path_factory.mktemp("key")
    t0 = time.perf_counter()
    done = _tool("release", "--out", handout, "--key", key)
    assert done.returncode == 0, done.stderr
    return handout, key, time.perf_counter() - t0


@pytest.fixture(scope="session")
def graded(tmp_path_factory, released):
    handout, key, _ = released
    subs = tmp_path_factory.mktemp("submissions")
    students = ["solution", "student", "wrong", "unreadable", *(f"cheat_{c}" for c in CHEAT_NAMES)]
    for student in students:
        (subs / student).mkdir()
    for path in SOLUTIONS:
        (subs / "solution" / path.name).write_text(path.read_text())
        (subs / "student" / path.name).write_text((handout / path.name).read_text())
    wrong = _read(FOLDER / "03_initialization.ipynb")  # 01 and 02 missing
    cell = wrong.cells[_cell_index(wrong, "best_of_n")]
    assert "losses.argmin(dim=1)" in cell.source
    cell.source = cell.source.replace("losses.argmin(dim=1)", "losses.argmax(dim=1)")
    nbformat.write(wrong, subs / "wrong" / "03_initialization.ipynb")
    (subs / "unreadable" / "01_xdog.ipynb").write_text('{"cells": [')
    for name in CHEAT_NAMES:
        nbformat.write(_cheat(name, handout / "01_xdog.ipynb", subs / "solution" / "01_xdog.ipynb"), subs / f"cheat_{name}" / "01_xdog.ipynb")
    out = tmp_path_factory.mktemp("grades") / "grades.csv"
    watched = (tmp_path_factory.getbasetemp(), FOLDER, CHEATS)
    before = _tree(*watched)
    temporary = set(Path(classroom.tempfile.gettempdir()).glob("classroom_*"))
    result = _grade(subs, out, 120, key)
    result["changed"] = {p: v for p, v in _tree(*watched).items() if before.get(p) != v and not p.startswith(str(out.parent))}
    result["changed"].update({p: None for p in before if not Path(p).exists()})
    result["left_over"] = set(Path(classroom.tempfile.gettempdir()).glob("classroom_*")) - temporary
    return result


@pytest.fixture(scope="session")
def hung(tmp_path_factory, released):
    """01_xdog with a top-level cell that never ends and a part-2 answer that never returns;
    then a student graded after it."""
    subs = tmp_path_factory.mktemp("hanging")
    nb = _read(FOLDER / "01_xdog.ipynb")
    nb.cells[_cell_index(nb, "xdog")].source = "def my_xdog(image, **settings):\n    while True:\n        pass"
    nb.cells.insert(_after_setup(nb), nbformat.v4.new_code_cell("import time\ntime.sleep(10**6)"))
    for student in ("hangs", "next"):
        (subs / student).mkdir()
    nbformat.write(nb, subs / "hangs" / "01_xdog.ipynb")
    (subs / "next" / "01_xdog.ipynb").write_text((FOLDER / "01_xdog.ipynb").read_text())
    key = tmp_path_factory.mktemp("key_01")
    for path in released[1].glob("01_xdog.*"):
        (key / path.name).write_bytes(path.read_bytes())
    return _grade(subs, tmp_path_factory.mktemp("grades") / "grades.csv", HANG_LIMIT, key)


# ---------------------------------------------------------------- the solution notebooks
def test_three_assignments_in_the_teachers_part_of_the_book():
    assert len(NAMES) >= 3
    part = next(p for p in yaml.safe_load((BOOK / "_toc.yml").read_text())["parts"] if p["caption"] == "For teachers")
    files = [c["file"] for c in part["chapters"]]
    assert files == ["teachers", *(f"handouts/{Path(n).stem}" for n in NAMES)]  # the student copies, not the solutions
    assert "assignments/*" in CONFIG["exclude_patterns"] and "handouts/*" in CONFIG["execute"]["exclude_patterns"]


def test_no_page_of_the_book_gives_a_solution_away():
    """The sources of every page the site shows hold no answer line; tests/test_site.py checks the
    built site the same way, this finds a leak without a build."""
    pages = [*BOOK.glob("*.ipynb"), *BOOK.glob("*.md"), *HANDOUTS.glob("*.ipynb")]
    text = {p.name: "\n".join(c.source for c in _read(p).cells) if p.suffix == ".ipynb" else p.read_text() for p in pages}
    for solution in SOLUTIONS:
        for line in (s for s in _secret_lines(_read(solution)) if len(s) >= 30):
            found = [name for name, t in text.items() if line in t]
            assert not found, f"{line!r} of {solution.name} is in {found}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_shape_and_hygiene(name):
    nb = _read(FOLDER / name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "**Goal.**" in nb.cells[0].source and "**Runtime" in nb.cells[0].source
    assert "**How your work is graded.**" in nb.cells[0].source
    assert 'if "google.colab" in sys.modules:' in code[0].source
    assert f"git+{CONFIG['repository']['url']}" in code[0].source
    setup = [c for c in code if classroom.role(c) == "setup"]
    assert setup and "import cgan_minimal" in setup[0].source and "cgan_minimal.set_seed(0)" in setup[0].source
    assert sum(classroom.role(c) == "teacher" for c in code) == 1
    assert "widgets" not in nb.metadata
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs stored"


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_metadata(name):
    nb = _read(FOLDER / name)
    cells = [c for c in nb.cells if classroom.nbgrader(c)]
    ids = [classroom.nbgrader(c)["grade_id"] for c in cells]
    assert len(ids) == len(set(ids)), f"{name}: grade_ids repeat"
    for cell in cells:
        meta = classroom.nbgrader(cell)
        assert meta["schema_version"] == 3 and {"grade", "solution", "locked", "grade_id"} <= set(meta)
        if meta["grade"]:
            assert meta["points"] > 0
        if meta["solution"] and cell.cell_type == "code":
            assert classroom.BEGIN_SOLUTION in cell.source
        for written in cell.metadata.get("classroom", {}).get("writes", []):  # each names a real library function
            module, attr = written.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(module), attr)), written
    setup, parts, manual = classroom.parts_of(nb)
    assert setup and parts and len(manual) == 1, f"{name}: auto-graded parts and one written answer"
    for part in parts:
        assert "check(" in part.test_code and classroom.BEGIN_HIDDEN in nb.cells[_cell_index(nb, part.test_id)].source


def test_regions_become_indented_stubs():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nprint(f)"
    assert classroom.replace_regions(source, classroom.BEGIN_SOLUTION, classroom.END_SOLUTION, classroom.CODE_STUB) == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f)"
    )
    with pytest.raises(ValueError, match="without"):
        classroom.replace_regions("### BEGIN SOLUTION\nx = 1", classroom.BEGIN_SOLUTION, classroom.END_SOLUTION, "")


# ---------------------------------------------------------------- the syntax check
ALIASES = {"np": "numpy", "xdog": "cgan_minimal.xdog", "project": "cgan_minimal.project", "torch": "torch"}
WRITES = ["cgan_minimal.xdog.blur", "cgan_minimal.project.complete"]


def _problems(source):
    return classroom.filter_answer(source, WRITES, ALIASES)[1]


def test_the_grader_loads_only_definitions_and_imports():
    source = "import math\nX = 3\nprint('hi')\ndef f(a):\n    b = a + 1\n    return b\nclass C:\n    pass\nf(2)"
    kept, problems = classroom.filter_answer(source, WRITES, ALIASES)
    assert problems == []
    assert "import math" in kept and "def f(a):" in kept and "class C:" in kept
    assert "X = 3" not in kept and "print" not in kept and "f(2)" not in kept


@pytest.mark.parametrize("source, message", [
    ("def f(g, s):\n    return xdog.blur(g, s)", "calls cgan_minimal.xdog.blur, the function this part asks you to write"),
    ("from cgan_minimal.xdog import blur as b\ndef f(g, s):\n    return b(g, s)", "imports cgan_minimal.xdog.blur"),
    ("import cgan_minimal.evaluate as e\ndef f(G, D, y):\n    return e.project.complete(G, D, y)", "calls cgan_minimal.project.complete"),
    ("def f(x):\n    np.testing.assert_allclose = lambda *a, **k: None\n    return x", "changes np.testing.assert_allclose"),
    ("def f(x):\n    return open('/etc/passwd').read()", "uses open()"),
    ("def f(x):\n    exec('y = 1')\n    return x", "uses exec()"),
    ("import os\ndef f(x):\n    return x", "imports os"),
    ("def f(x):\n    return torch.os.system('true')", "uses .os"),
    ("def f(x):\n    return x.__class__.__subclasses__()", "uses __class__"),
    ("def f(x):\n    return np.load('key.npz')", "uses .load"),
    ("def f(x, default=getattr(np, 'zeros')):\n    return x", "uses getattr()"),
    ("def f(x):\n    check('name', x)\n    return x", "uses check()"),
    ("def f(x)\n    return x", "syntax error"),
])
def test_the_syntax_check_refuses(source, message):
    problems = _problems(source)
    assert any(message in p for p in problems), problems


def test_the_sandbox_refuses_files_and_processes_outside_its_folder(tmp_path):
    folder, secret = tmp_path / "work", tmp_path / "key"
    folder.mkdir()
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    code = f"""
import subprocess, sys
sys.path.insert(0, {str(FOLDER)!r})
import classroom
classroom.enter_sandbox({{"folder": {str(folder)!r}, "deny": [{str(secret)!r}], "user": None}})
open("mine.txt", "w").write("fine")
for attempt in (lambda: open({str(tmp_path / "outside.txt")!r}, "w"), lambda: open({str(secret / "answers.txt")!r}),
                lambda: subprocess.run(["true"]), lambda: open("/proc/1/cmdline", "rb")):
    try:
        attempt()
        print("allowed")
    except PermissionError as e:
        print("refused")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.split() == ["refused"] * 4, done.stdout + done.stderr
    assert (folder / "mine.txt").read_text() == "fine" and not (tmp_path / "outside.txt").exists()


# ---------------------------------------------------------------- the student copies and the key
@pytest.mark.parametrize("name", NAMES)
def test_student_copies_hold_no_solutions_and_no_hidden_tests(released, name):
    solution, student = _read(FOLDER / name), _read(released[0] / name)
    assert len(student.cells) == len(solution.cells) - 1  # the teacher's cell is left out
    text = "\n".join(c.source for c in student.cells)
    secret = _secret_lines(solution)
    assert secret
    for line in secret:
        assert line not in text, f"{name}: the student copy shows {line!r}"
    for marker in (classroom.BEGIN_SOLUTION, classroom.BEGIN_HIDDEN, classroom.END_HIDDEN, "check("):
        assert marker not in text
    assert "raise NotImplementedError()" in text
    for cell in student.cells:
        assert not classroom.SITE_TAGS & set(cell.metadata.get("tags", [])) and "classroom" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if classroom.nbgrader(cell).get("solution") and cell.cell_type == "markdown":
            assert cell.source == classroom.TEXT_STUB


@pytest.mark.parametrize("name", NAMES)
def test_the_book_shows_the_released_student_copies(released, name):
    assert HANDOUTS.joinpath(name).read_text() == released[0].joinpath(name).read_text(), (
        f"book/handouts/{name} is not the release of book/assignments/{name}: "
        "run python book/assignments/classroom.py release --out book/handouts")


def test_the_key_is_private_and_holds_a_reference_for_every_check(released):
    _, key, seconds = released
    assert stat.S_IMODE(key.stat().st_mode) == 0o700
    keys = classroom.read_keys(key)
    assert [k.name for k in keys] == [Path(n).stem for n in NAMES]
    for k in keys:
        for path in classroom.key_paths(key, k.name):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for part in k.parts:
            assert part.checks, f"{k.name}/{part.test_id}: no recorded values"
            assert all(f"{part.test_id}/{name}" in k.reference for name in part.checks)
    print(f"release with the key: {seconds:.0f} s")


def test_the_tests_compare_with_stored_values_not_with_the_library(released):
    for k in classroom.read_keys(released[1]):
        for part in k.parts:
            for written in part.writes:
                attr = written.rsplit(".", 1)[1]
                assert f".{attr}(" not in part.test_code, f"{k.name}/{part.test_id} calls {written}"


# ---------------------------------------------------------------- grading
def test_solutions_score_full_marks(graded):
    rows, totals = graded["rows"], graded["totals"]
    assert list(rows[0]) == classroom.FIELDS
    mine = _rows(rows, "solution")
    assert {r["assignment"] for r in mine} == {Path(n).stem for n in NAMES}
    for r in _auto(mine):
        assert (r["points"], r["status"]) == (r["max_points"], "passed"), r
    assert totals["solution", "total"]["percent"] == "100.0"
    manual = [r for r in mine if r["status"].startswith("manual")]
    assert len(manual) == len(NAMES) and all(r["points"] == "" for r in manual)  # written answers: the teacher's part
    assert all(r["status"].startswith("ran: all") for r in mine if r["test"] == classroom.NOTEBOOK_ROW)


def test_student_copies_score_zero_without_crashing_the_grader(graded):
    rows, totals = graded["rows"], graded["totals"]
    mine = _auto(_rows(rows, "student"))
    assert mine and all(r["points"] == "0" and r["status"] == "failed: NotImplementedError" for r in mine), mine
    assert totals["student", "total"]["points"] == "0"


@pytest.mark.parametrize("name", NAMES)
def test_student_copies_run_up_to_the_first_stub(graded, name):
    nb = _read(graded["executed"] / "student" / name)
    ran = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    errors = [o for c in ran for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "NotImplementedError", f"{name}: the first error is not a stub"
    first = next(i for i, c in enumerate(ran) if any(o.output_type == "error" for o in c.outputs))
    assert first >= 2  # the install and set-up cells ran before the first stub raised


def test_a_wrong_submission_loses_exactly_the_points_of_its_test(graded):
    rows, totals = graded["rows"], graded["totals"]
    wrong = {r["test"]: r for r in _auto(_rows(rows, "wrong", "03_initialization"))}
    right = {r["test"]: r for r in _auto(_rows(rows, "solution", "03_initialization"))}
    assert wrong["test_best_of_n"]["points"] == "0" and wrong["test_best_of_n"]["status"].startswith("failed: ")
    assert {t: r["points"] for t, r in wrong.items() if t != "test_best_of_n"} == {t: r["points"] for t, r in right.items() if t != "test_best_of_n"}
    lost = float(totals["solution", "03_initialization"]["points"]) - float(totals["wrong", "03_initialization"]["points"])
    assert lost == float(right["test_best_of_n"]["max_points"])


def test_missing_and_unreadable_notebooks_score_zero(graded):
    rows, totals = graded["rows"], graded["totals"]
    for student, assignment, status in (("wrong", "01_xdog", "missing"), ("wrong", "02_projection", "missing"),
                                        ("unreadable", "01_xdog", "unreadable"), ("unreadable", "03_initialization", "missing")):
        mine = _rows(rows, student, assignment)
        assert mine and all(r["points"] in ("0", "") and r["status"].startswith(status) for r in mine), mine
    assert totals["unreadable", "total"]["points"] == "0"
    assert totals["unreadable", "total"]["max_points"] == totals["solution", "total"]["max_points"]


# ---------------------------------------------------------------- the cheats
EXPECTED = {  # what the status of each part says, for the cheats whose reason is specific
    ("monkeypatch", "test_xdog"): "changes np.testing.assert_allclose",
    ("wrapper", "test_blur"): "calls cgan_minimal.xdog.blur, the function this part asks you to write",
    ("wrapper", "test_xdog"): "imports cgan_minimal.xdog.xdog, the function this part asks you to write",
}


@pytest.mark.parametrize("cheat", CHEAT_NAMES)
def test_a_cheat_scores_zero_on_what_it_faked(graded, cheat):
    mine = {r["test"]: r for r in _auto(_rows(graded["rows"], f"cheat_{cheat}", "01_xdog"))}
    faked = ["test_blur", "test_xdog"] if cheat == "wrapper" else list(mine)
    for test in faked:
        assert mine[test]["points"] == "0", mine[test]
        assert EXPECTED.get((cheat, test), "") in mine[test]["status"], mine[test]
    if cheat == "wrapper":  # part 3 is the model answer: its points stay
        assert mine["test_eps"]["points"] == mine["test_eps"]["max_points"] == "2"


def test_the_saboteurs_victim_keeps_full_marks(graded):
    assert graded["totals"]["solution", "01_xdog"]["percent"] == "100.0"
    executed = _read(graded["executed"] / "cheat_saboteur" / "01_xdog.ipynb")
    outputs = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert any(o.ename == "PermissionError" for o in outputs)  # its write was refused


def test_no_process_outlives_its_submission(graded):
    executed = _read(graded["executed"] / "cheat_daemon" / "01_xdog.ipynb")
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "refused:" in text  # the process in a session of its own was not even started
    pid = int(re.search(r"forked pid (\d+)", text).group(1))
    assert pid > 0
    stat_file = Path(f"/proc/{pid}/stat")
    alive = stat_file.exists() and stat_file.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    assert not alive, f"the forked process {pid} outlived the grader"


def test_the_grades_are_what_the_grader_printed(graded):
    printed = dict(re.findall(r"^(\S+\.ipynb): (\S+) points", graded["stdout"], re.M))
    rows = graded["rows"]
    for name, points in printed.items():
        student, assignment = name[: -len(".ipynb")].split("/")
        got = sum(float(r["points"] or 0) for r in _auto(_rows(rows, student, assignment)))
        assert f"{got:g}/{sum(float(r['max_points']) for r in _auto(_rows(rows, student, assignment))):g}" == points, name
    assert not any("cheat" in r["student"] and r["points"] not in ("0", "") for r in rows if r["test"] != "test_eps")


def test_no_file_outside_a_submissions_folder_changes(graded):
    assert graded["changed"] == {}, f"changed by grading: {sorted(graded['changed'])}"
    assert graded["left_over"] == set(), f"temporary folders left: {graded['left_over']}"


def test_a_hanging_notebook_is_cut_off_at_the_limit(hung):
    rows, totals, seconds = hung["rows"], hung["totals"], hung["seconds"]
    tests = {r["test"]: r for r in _rows(rows, "hangs", "01_xdog")}
    assert tests["test_blur"]["status"] == "passed"  # the test before the answer that hangs
    assert tests["test_xdog"]["points"] == "0" and tests["test_xdog"]["status"].startswith("timeout: cut off"), tests
    assert tests["test_eps"]["status"] == "not run: the time limit came before this test", tests
    assert tests[classroom.NOTEBOOK_ROW]["status"].startswith("timeout: cut off"), tests
    assert seconds < 2 * HANG_LIMIT + 30, f"the grader took {seconds:.0f} s"
    assert totals["next", "01_xdog"]["percent"] == "100.0"  # and the grader went on


# ---------------------------------------------------------------- the command line
def test_bad_arguments_name_the_problem(tmp_path):
    missing = tmp_path / "nowhere"
    (tmp_path / "key").mkdir()
    for args, message in (
        (("grade", missing, "--key", tmp_path / "key", "--out", tmp_path / "g.csv"), "no assignments in the key folder"),
        (("grade", tmp_path, "--key", missing, "--out", tmp_path / "g.csv"), f"key folder {missing} does not exist"),
        (("grade", tmp_path, "--key", tmp_path, "--out", tmp_path / "g.csv", "--timeout", "0"), "--timeout must be > 0"),
        (("release", missing / "a.ipynb", "--out", tmp_path), "no such notebook"),
        (("release", "--out", FOLDER), "where the solutions are"),
        (("release", "--out", tmp_path, "--key", FOLDER), "where the solutions are"),
    ):
        done = _tool(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)


def test_release_of_one_notebook_without_a_key(tmp_path):
    done = _tool("release", FOLDER / NAMES[0], "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == [NAMES[0]]
