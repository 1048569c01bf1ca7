"""Classroom assignments: student copies, a grading key, and an isolated autograder.

    python book/assignments/classroom.py release --out handout/ --key key/ [NOTEBOOK ...]
    python book/assignments/classroom.py grade SUBMISSIONS --key key/ --out grades.csv [--timeout 120]

The notebooks beside this file are the solutions. They mark their parts with the nbgrader
conventions, plus a ``classroom`` entry in the metadata of a few cells:

* a solution cell (``"nbgrader": {"solution": true, ...}``) holds its answer between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (or is an answer as a whole); its
  ``"classroom": {"writes": [...]}`` names the library functions the part asks the students to
  write themselves (a submission that uses one of them scores 0 on that part);
* a test cell (``"grade": true, "solution": false``, with ``grade_id`` and ``points``) holds
  visible tests and, between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, tests the
  students never see; ``check(name, value, atol=, rtol=)`` there records a value that the grader
  compares with the model answer's;
* a cell with ``"grade": true, "solution": true`` is a written answer, graded by the teacher;
* ``"classroom": {"role": "setup"}`` marks the cells that define the test inputs (the grader runs
  them, never the student's copy of them); ``"role": "teacher"`` marks cells left out of the
  student copies (the solution notebook's stand-in for ``check``).

``release`` writes the student copies (solutions replaced by stubs, hidden tests and teacher
cells removed, outputs cleared) and, with ``--key``, the grading key: per assignment a JSON file
(setup code, the model answers, the tests) and a ``.npz`` file with the reference values, which
it computes by grading the solution notebook itself. Keep the key where students cannot read it.

``grade`` reads every ``SUBMISSIONS/<student>/<assignment>.ipynb`` into memory, then for each one:

1. makes a temporary folder that holds only that notebook;
2. runs the tests in a fresh process: the key's setup cells, the def/class/import statements of
   the student's answer cells for the part under test (every other statement dropped, and a
   syntax check first), the model answers of the other parts, then the test; the values it
   records go back to the grader, which compares them with the key's reference values;
3. meanwhile runs the student's notebook as it is in a kernel, for the executed copy the
   teacher reads (``<out>_notebooks/``);
4. kills every process the two left behind (the grader is their child subreaper, so a process
   that started a session of its own is found too) and removes the folder.

Both processes run in the folder, with Python audit hooks that refuse to write outside it, to
read the key, the solutions or other submissions, or to start processes; when the grader runs
as root they also run as an unprivileged user (``--user``, default ``nobody``). The CSV files
are written at the end, atomically, once no process of any submission is left.
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import csv
import ctypes
import hashlib
import io
import json
import math
import os
import pwd
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOL = Path(__file__).resolve()
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "..."
SITE_TAGS = {"hide-input", "remove-input", "remove-cell"}
FIELDS = ["student", "assignment", "test", "points", "max_points", "status"]
TOTAL_FIELDS = ["student", "assignment", "points", "max_points", "percent"]
NOTEBOOK_ROW = "notebook"  # the row that says how the student's own notebook ran (0 points)
ATOL, RTOL = 1e-5, 1e-5  # check()'s default tolerances


def nbgrader(cell) -> dict:
    """A cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.metadata.get("nbgrader", {})


def role(cell) -> str | None:
    """'setup', 'teacher' or None: the cell's ``classroom.role``."""
    return cell.metadata.get("classroom", {}).get("role")


def solution_notebooks(folder: Path = HERE) -> list[Path]:
    """The solution notebooks of a folder, in file-name order."""
    return sorted(folder.glob("*.ipynb"))


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters (for a CSV cell)."""
    return " ".join(str(text).split())[:limit]


# ================================================================ release: the student copies
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


def stub_solution(cell) -> str:
    """The student's version of a solution cell: its regions, or the whole cell, as a stub."""
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    if BEGIN_SOLUTION not in cell.source:
        return stub
    return replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)


def student_cell(cell):
    """One cell of the student copy: stubbed, hidden tests removed, no outputs or site tags."""
    if nbgrader(cell).get("solution") or BEGIN_SOLUTION in cell.source:
        cell.source = stub_solution(cell)
    cell.source = replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None).rstrip()
    cell.metadata.pop("classroom", None)
    tags = [t for t in cell.metadata.get("tags", []) if t not in SITE_TAGS]
    if tags:
        cell.metadata["tags"] = tags
    else:
        cell.metadata.pop("tags", None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return cell


def student_copy(nb):
    """The notebook a student gets: no solutions, hidden tests, teacher cells or outputs."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells = []
    for i, cell in enumerate(nb.cells):
        if role(cell) == "teacher":
            continue
        try:
            cells.append(student_cell(cell))
        except ValueError as e:
            raise ValueError(f"cell {i}: {e}") from None
    nb.cells = cells
    return nb


def release(notebooks: list[Path], out: Path, key: Path | None = None, timeout: float = 300,
            user: str = "nobody") -> list[Path]:
    """Write the student copy of each solution notebook to ``out`` (same file names) and, with
    ``key``, its grading key (see :func:`write_key`)."""
    import nbformat

    for folder, what in ((out, "--out"), (key, "--key")):
        if folder is not None and any(folder.resolve() == nb.resolve().parent for nb in notebooks):
            raise ValueError(f"{what} {folder} is where the solutions are: the files written there would mix with them")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        solution = nbformat.read(path, as_version=4)
        try:
            student = student_copy(solution)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        nbformat.write(student, out / path.name)
        written.append(out / path.name)
        if key is not None:
            written += write_key(path, solution, key, timeout, user)
    return written


# ================================================================ the parts of an assignment
@dataclass
class Part:
    """An auto-graded part: its test cell and the solution cells before it."""

    test_id: str
    points: float
    test_code: str  # the whole test cell, hidden tests included
    answer_ids: list[str]  # grade_ids of the part's solution cells
    answer_code: list[str]  # the model answers (def/class/import statements)
    writes: list[str]  # library functions the part asks to write
    checks: dict[str, dict] = field(default_factory=dict)  # name -> {"atol", "rtol"}


@dataclass
class Key:
    """What the grader needs of one assignment (read from the key folder)."""

    name: str
    setup: list[str]
    parts: list[Part]
    manual: list[tuple[str, float]]  # written answers: (grade_id, points)
    reference: dict[str, "object"] = field(default_factory=dict)  # "test_id/name" -> array


def parts_of(solution) -> tuple[list[str], list[Part], list[tuple[str, float]]]:
    """The setup code, the auto-graded parts and the written answers of a solution notebook.

    A part is a test cell together with the solution cells since the previous test cell."""
    setup, parts, manual, pending = [], [], [], []
    for cell in solution.cells:
        meta = nbgrader(cell)
        if role(cell) == "setup":
            setup.append(cell.source)
        elif meta.get("grade") and meta.get("solution"):
            manual.append((meta["grade_id"], float(meta["points"])))
        elif meta.get("solution") and cell.cell_type == "code":
            pending.append(cell)
        elif meta.get("grade"):
            if "grade_id" not in meta or "points" not in meta:
                raise ValueError(f"a graded cell without grade_id or points: {cell.source[:60]!r}")
            if not pending:
                raise ValueError(f"test cell {meta['grade_id']!r} has no solution cell before it")
            writes = [w for c in pending for w in c.metadata.get("classroom", {}).get("writes", [])]
            answers = [strip_markers(c.source) for c in pending]
            parts.append(Part(meta["grade_id"], float(meta["points"]), strip_markers(cell.source),
                              [nbgrader(c)["grade_id"] for c in pending], answers, writes))
            pending = []
    return setup, parts, manual


def strip_markers(source: str) -> str:
    """``source`` without the solution and hidden-test marker lines (their content kept)."""
    markers = {BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN}
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


# ================================================================ the syntax check
ALLOWED_MODULES = {"numpy", "torch", "math", "cmath", "functools", "itertools", "collections", "dataclasses",
                   "typing", "statistics", "time", "random", "operator", "enum", "abc", "numbers", "warnings",
                   "cgan_minimal"}
BLOCKED_MODULES = ("torch.utils.cpp_extension", "torch.hub", "torch.package", "torch.multiprocessing")
BANNED_NAMES = {"exec", "eval", "compile", "open", "globals", "locals", "vars", "getattr", "setattr", "delattr",
                "breakpoint", "memoryview", "check", "get_ipython"}
BANNED_ATTRS = {"os", "sys", "gc", "subprocess", "builtins", "ctypes", "importlib", "io", "shutil", "pathlib",
                "socket", "inspect", "pickle", "marshal", "signal", "threading", "multiprocessing", "types", "code",
                "runpy", "pty", "tempfile", "glob", "mmap", "platform", "system", "popen", "fork", "spawn",
                "fromfile", "tofile", "from_file", "memmap", "DataSource", "hub", "cpp_extension",
                "f_globals", "f_locals", "f_back", "f_builtins", "gi_frame", "cr_frame", "ag_frame", "tb_frame",
                "tb_next", "co_code", "modules"}
BANNED_PREFIXES = ("load", "save", "open", "read_", "write_", "exec", "spawn")
ALLOWED_DUNDERS = {"__init__", "__name__"}
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def aliases_of(tree: ast.AST) -> dict[str, str]:
    """Local name -> qualified name, for every import statement of ``tree``."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def qualified(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``np.linalg.norm`` -> 'numpy.linalg.norm' through the imports; None if not rooted in one."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def is_written(name: str | None, writes: list[str]) -> str | None:
    """The entry of ``writes`` that ``name`` refers to (also through another module of the library)."""
    if not name:
        return None
    for w in writes:
        if name == w or name.startswith(w + "."):
            return w
        if name.startswith("cgan_minimal.") and name.count(".") >= 2 and name.split(".")[-1] == w.split(".")[-1]:
            return w
    return None


def module_problem(module: str) -> str | None:
    """Why an import of ``module`` is refused, or None."""
    if module.split(".")[0] not in ALLOWED_MODULES:
        return f"imports {module}: a graded answer may import only {', '.join(sorted(ALLOWED_MODULES))}"
    if any(module == b or module.startswith(b + ".") for b in BLOCKED_MODULES):
        return f"imports {module}, which the grader does not allow"
    return None


def import_problems(node: ast.AST, writes: list[str]) -> list[str]:
    """Problems of one import statement."""
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module:
            return ["a relative import"]
        if any(a.name == "*" for a in node.names):
            return [f"'from {node.module} import *': import the names you use"]
        found = [module_problem(node.module)]
        found += [f"imports {a.name}" for a in node.names if a.name in BANNED_ATTRS | BANNED_NAMES
                  or a.name.startswith(BANNED_PREFIXES) or a.name.startswith("__")]
        found += [f"imports {node.module}.{a.name}, the function this part asks you to write"
                  for a in node.names if is_written(f"{node.module}.{a.name}", writes)]
        return [p for p in found if p]
    return [p for a in node.names for p in [module_problem(a.name)] if p]


def name_problem(node: ast.AST) -> str | None:
    """A forbidden name or attribute (files, processes, dynamic code, the interpreter's insides)."""
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    else:
        return None
    if name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
        return f"uses {name}"
    if isinstance(node, ast.Name) and name in BANNED_NAMES:
        return f"uses {name}()"
    if isinstance(node, ast.Attribute) and (name in BANNED_ATTRS or name.startswith(BANNED_PREFIXES)):
        return f"uses .{name}"
    return None


def local_names(fn: ast.AST) -> set[str]:
    """The parameters of a function and every name it assigns."""
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
    return names


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def store_problems(node: ast.AST, local: set[str] = frozenset()) -> list[tuple[int, str]]:
    """Assignments to an attribute or item of something that is not a variable of the enclosing
    function (a module, a global, a class attribute: monkeypatching)."""
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Attribute, ast.Subscript)) and isinstance(child.ctx, (ast.Store, ast.Del)):
            if root_name(child) not in local:
                found.append((child.lineno, f"changes {ast.unparse(child)}, which is not a variable of the function"))
        found += store_problems(child, local_names(child) if isinstance(child, FUNCTIONS) else local)
    return found


def answer_problems(tree: ast.Module, writes: list[str], aliases: dict[str, str]) -> list[str]:
    """Every problem of the kept statements of an answer cell, as 'line N: ...'."""
    found: list[tuple[int, str]] = []
    for top in tree.body:
        for node in ast.walk(top):
            line = getattr(node, "lineno", top.lineno)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found += [(line, p) for p in import_problems(node, writes)]
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                found.append((line, f"'{type(node).__name__.lower()}' statement"))
            elif (problem := name_problem(node)) is not None:
                found.append((line, problem))
            elif isinstance(node, (ast.Attribute, ast.Name)) and (w := is_written(qualified(node, aliases), writes)):
                found.append((line, f"calls {w}, the function this part asks you to write"))
        found += store_problems(ast.Module(body=[top], type_ignores=[]))
    unique = sorted(set(found))
    return [f"line {line}: {message}" for line, message in unique]


def filter_answer(source: str, writes: list[str], setup_aliases: dict[str, str]) -> tuple[str, list[str]]:
    """The def/class/import statements of an answer cell, and the problems that refuse it."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return "", [f"line {e.lineno}: syntax error: {e.msg}"]
    tree.body = [s for s in tree.body if isinstance(s, KEPT)]
    problems = answer_problems(tree, writes, {**setup_aliases, **aliases_of(tree)})
    return ast.unparse(tree), problems


def setup_aliases(setup: list[str]) -> dict[str, str]:
    names = {}
    for source in setup:
        names.update(aliases_of(ast.parse(source)))
    return names


# ================================================================ the sandbox (both processes)
def unprivileged_user(name: str) -> tuple[int, int] | None:
    """(uid, gid) to run the students' code as when the grader is root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"the grader runs as root, and there is no user {name!r} to run the students' code as (--user)") from None
    if entry.pw_uid == 0:
        raise ValueError(f"--user {name} is root: name an unprivileged user")
    return entry.pw_uid, entry.pw_gid


def sandbox_env(folder: Path) -> dict[str, str]:
    """The environment of a student's process: only the basics, home and caches in its folder."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "TZ")}
    home = str(folder)
    return {**keep, "HOME": home, "MPLCONFIGDIR": f"{home}/.config/matplotlib", "XDG_CACHE_HOME": f"{home}/.cache",
            "XDG_CONFIG_HOME": f"{home}/.config", "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter",
            "JUPYTER_DATA_DIR": f"{home}/.jupyter", "IPYTHONDIR": f"{home}/.ipython", "MPLBACKEND": "agg",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PATH_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
               "shutil.rmtree", "os.chflags", "os.mkfifo", "os.mknod", "os.setxattr", "os.removexattr"}
TWO_PATH_EVENTS = {"os.rename", "os.link"}  # (source, target): both change
COPY_EVENTS = {"shutil.copyfile", "shutil.copytree", "shutil.move"}  # (source, target): the target changes
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "pty.spawn", "os.kill", "os.killpg", "os.startfile", "os.chroot", "os.symlink",
                  "sys.addaudithook"}


class Policy:
    """What a student's process may do with files: write in its folder, read anything but ``deny``."""

    def __init__(self, folder: str, deny: list[str]):
        self.folder = os.path.realpath(folder)
        self.deny = [os.path.realpath(d) for d in deny]
        self.pid = str(os.getpid())

    @staticmethod
    def _inside(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder.rstrip("/") + "/")

    def check_read(self, path: str) -> None:
        if any(self._inside(path, d) for d in self.deny):
            raise PermissionError(f"the grader does not let a submission read {path}")
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != self.pid:
            raise PermissionError(f"the grader does not let a submission look at other processes ({path})")

    def check_write(self, path: str) -> None:
        if not (self._inside(path, self.folder) or path == "/dev/null"):
            raise PermissionError(f"the grader does not let a submission change files outside its folder ({path})")

    def resolve(self, path) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        return os.path.realpath(os.fsdecode(path))

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open":
            path = self.resolve(args[0])
            if path is not None:
                mode, flags = args[1] or "", args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                writing = any(c in mode for c in "wax+") or bool(flags & WRITE_FLAGS)
                (self.check_write if writing else self.check_read)(path)
        elif event in ("os.listdir", "os.scandir"):
            path = self.resolve(args[0] if args and args[0] is not None else ".")
            if path is not None:
                self.check_read(path)
        elif event in PATH_EVENTS:
            path = self.resolve(args[0])
            if path is not None:
                self.check_write(path)
        elif event in TWO_PATH_EVENTS:
            for p in args[:2]:
                if (path := self.resolve(p)) is not None:
                    self.check_write(path)
        elif event in COPY_EVENTS:
            if (path := self.resolve(args[1])) is not None:
                self.check_write(path)
        elif event in PROCESS_EVENTS:
            raise PermissionError(f"the grader does not let a submission do this ({event})")


PRELOAD = ("numpy", "torch", "torch.nn.functional", "matplotlib", "matplotlib.pyplot", "cgan_minimal",
           *(f"cgan_minimal.{m}" for m in ("data", "faces", "figures", "models", "project", "train", "xdog", "metrics")),
           *sorted(ALLOWED_MODULES - {"numpy", "torch", "cgan_minimal"}), "datetime", "decimal", "fractions",
           "json", "zipfile", "pickle", "traceback", "linecache", "unittest", "numpy.testing", "torch.testing",
           "cProfile", "pstats", "profile", "inspect", "dis", "tokenize", "difflib", "pprint", "textwrap")


def preload(names=PRELOAD) -> None:
    """Import the libraries while still privileged: the interpreter itself may sit where the
    unprivileged user cannot read (e.g. under /root)."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import torch

    z = torch.zeros(3, requires_grad=True)  # the optimisers and autograd import more on first use
    for opt in (torch.optim.SGD([z], lr=0.1, momentum=0.9, nesterov=True), torch.optim.Adam([z], lr=0.1)):
        opt.zero_grad()
        (z - 1).square().sum().backward()
        opt.step()


def drop_privileges(spec: dict) -> None:
    """As root: hand the folder to the unprivileged user and become that user, for good."""
    if spec.get("user") is None or os.geteuid() != 0:
        return
    uid, gid = spec["user"]
    for parent, dirs, files in os.walk(spec["folder"]):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(parent, name), uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("classroom: could not become the unprivileged user")
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no other process of that user can trace this one


def enter_sandbox(spec: dict) -> None:
    """In a student's process, before any of its code: become the unprivileged user (if root)
    and install the audit hook, which no later code can remove."""
    drop_privileges(spec)
    os.chdir(spec["folder"])
    sys.addaudithook(Policy(spec["folder"], spec["deny"]))


# ================================================================ the test process
def encode(value) -> str:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def decode(text: str):
    import numpy as np

    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)


def as_array(value):
    """A value as a numpy array (tensors detached and moved to the CPU)."""
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"check: {type(value).__name__} is not an array, a tensor or a number")
    return array


def recorder(store: dict):
    """The ``check`` that the tests call in the test process: it records, the grader compares."""

    def check(name: str, value, atol: float = ATOL, rtol: float = RTOL) -> None:
        if name in store:
            raise ValueError(f"check: {name!r} recorded twice")
        store[name] = (as_array(value), atol, rtol)

    return check


def error_text(e: BaseException) -> str:
    return one_line(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)


def run_one_test(base: dict, test: dict) -> dict:
    """Run one test in a fresh namespace: the answer cells in the notebook's order (the student's
    for this part, the model answers for the others), then the test code. Returns the values it
    recorded, or its error."""
    store: dict = {}
    ns = {**base, "check": recorder(store)}
    try:
        for label, code in test["cells"]:
            exec(compile(code, label, "exec"), ns)
        exec(compile(test["code"], f"<test {test['id']}>", "exec"), ns)
    except BaseException as e:  # noqa: BLE001 — a test that fails for any reason reports it
        if isinstance(e, KeyboardInterrupt):
            raise
        return {"test": test["id"], "error": error_text(e)}
    return {"test": test["id"], "values": {k: [encode(v), a, r] for k, (v, a, r) in store.items()}}


def test_process_main(fd: int) -> int:
    """The entry point of the test process: read the job on stdin, report one line per test on ``fd``."""
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    out = os.fdopen(fd, "w", buffering=1)
    os.chdir(job["sandbox"]["folder"])
    preload()
    import torch

    torch.set_num_threads(1)
    base = {"__name__": "__main__", "check": recorder({})}
    try:  # the key's set-up cells: the teacher's code, run before the sandbox closes
        for i, code in enumerate(job["setup"]):
            exec(compile(code, f"<setup {i}>", "exec"), base)
    except BaseException as e:  # noqa: BLE001
        out.write(json.dumps({"setup_error": error_text(e)}) + "\n")
        return 1
    enter_sandbox(job["sandbox"])
    for test in job["tests"]:
        out.write(json.dumps({"start": test["id"]}) + "\n")
        out.write(json.dumps(run_one_test(base, test)) + "\n")
    return 0


# ================================================================ processes: start, watch, kill
def become_subreaper() -> None:
    """Orphans of our children are re-parented to us, not to init, so kill_descendants finds them
    (Linux; elsewhere only the process groups are killed)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int | None = None) -> list[int]:
    """The living processes below ``pid`` (default: this one)."""
    if not Path("/proc/self/stat").exists():
        return []
    tree, found, todo = _children(), [], [pid or os.getpid()]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def reap() -> None:
    """Collect the exit status of every finished child (the orphans re-parented to us included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(rounds: int = 50) -> None:
    """SIGKILL every process below this one until none is left; raise if some survive."""
    for _ in range(rounds):
        alive = descendants()
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
        reap()
    raise RuntimeError(f"processes {descendants()} of a submission survived SIGKILL: grades not written")


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the session of a process started with start_new_session (the whole group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def read_reports(fd: int, deadline: float) -> tuple[list[dict], bool]:
    """The test process's report lines until it exits or the deadline passes (then True)."""
    reports, buffer = [], b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return reports, True
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return reports, False
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        reports += [json.loads(line) for line in lines if line.strip()]


def run_tests(job: dict, folder: Path, timeout: float) -> tuple[list[dict], str | None]:
    """Run the test process on ``job``; its reports and, if it did not finish, why."""
    read_fd, write_fd = os.pipe()
    errors = tempfile.TemporaryFile()
    cmd = [sys.executable, str(TOOL), "_test-process", str(write_fd)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, cwd=folder,
                            env=sandbox_env(folder), pass_fds=[write_fd], start_new_session=True)
    os.close(write_fd)
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        reports, late = read_reports(read_fd, time.monotonic() + timeout)
    except (BrokenPipeError, ValueError) as e:
        reports, late = [], False
        errors.write(f"\n{e}".encode())
    finally:
        os.close(read_fd)
        kill_group(proc)
    if late:
        return reports, f"timeout: cut off at the limit of {timeout:g} s"
    if any("setup_error" in r for r in reports):
        return reports, f"failed: the tests' set-up failed: {next(r for r in reports if 'setup_error' in r)['setup_error']}"
    if proc.returncode != 0:
        errors.seek(0)
        tail = errors.read()[-400:].decode(errors="replace")
        return reports, one_line(f"failed: the test process exited with code {proc.returncode}: {tail}")
    return reports, None


# ================================================================ the student's notebook in a kernel
def kernel_main(spec_json: str, connection_file: str) -> None:
    """The kernel's entry point: read the connection file, enter the sandbox, start ipykernel."""
    spec = json.loads(spec_json)
    os.chdir(spec["folder"])
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file, "--HistoryManager.enabled=False"])
    preload((*PRELOAD, "matplotlib_inline.backend_inline", "IPython.display", "IPython.core.formatters"))
    enter_sandbox(spec)
    app.start()


def kernel_manager(spec: dict, kernels: Path):
    """A KernelManager whose kernel is :func:`kernel_main` in the sandbox ``spec``."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    folder = kernels / "classroom"
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(TOOL), "_kernel", json.dumps(spec), "{connection_file}"]
    (folder / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "classroom", "language": "python"}))
    return AsyncKernelManager(kernel_name="classroom", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))


def execute_notebook(nb, spec: dict, folder: Path, kernels: Path, timeout: float) -> str:
    """Run the student's notebook as submitted; what happened, in a few words. ``nb`` gets the outputs."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    km = kernel_manager(spec, kernels)
    client = NotebookClient(nb, km=km, allow_errors=True, shutdown_kernel="immediate")
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    deadline, raised = time.monotonic() + timeout, 0
    try:
        with client.setup_kernel(cwd=str(folder), env=sandbox_env(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            for i in code:
                left = deadline - time.monotonic()
                if left <= 0:
                    return f"timeout: cut off at the limit of {timeout:g} s"
                client.timeout = max(1, math.ceil(left))
                client.execute_cell(nb.cells[i], i)
                raised += any(o.output_type == "error" for o in nb.cells[i].get("outputs", []))
    except CellTimeoutError:
        return f"timeout: cut off at the limit of {timeout:g} s"
    except DeadKernelError:
        return "failed: the kernel died"
    except Exception as e:  # the kernel did not start, or nbclient gave up
        return one_line(f"not run: {error_text(e)}")
    finally:
        kill_kernel(km)
    return f"ran: {raised} of {len(code)} code cells raised an error" if raised else f"ran: all {len(code)} code cells"


def kill_kernel(km) -> None:
    """SIGKILL the kernel's whole process group (nbclient has shut it down already, normally)."""
    provisioner = getattr(km, "provisioner", None)
    pgid = getattr(provisioner, "pgid", None)
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ================================================================ the key
def key_paths(key: Path, stem: str) -> tuple[Path, Path]:
    return key / f"{stem}.json", key / f"{stem}.npz"


def student_answers(nb, part: Part, aliases: dict[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The filtered answer cells of a submission for one part, and why they are refused (if so)."""
    cells = {}
    for cell in nb.cells:
        grade_id = nbgrader(cell).get("grade_id")
        if grade_id in part.answer_ids and grade_id not in cells and cell.cell_type == "code":
            cells[grade_id] = cell.source
    answers, problems = [], []
    for grade_id in part.answer_ids:
        if grade_id not in cells:
            problems.append(f"answer cell {grade_id!r} was deleted")
            continue
        code, found = filter_answer(cells[grade_id], part.writes, aliases)
        answers.append((grade_id, code))
        problems += [f"cell {grade_id!r} {p}" for p in found]
    return answers, problems


def test_job(key: Key, nb, sandbox: dict) -> tuple[dict, dict[str, list[str]]]:
    """The test process's job for one submission, and the refused parts with their reasons."""
    aliases = setup_aliases(key.setup)
    tests, refused = [], {}
    for part in key.parts:
        answers, problems = student_answers(nb, part, aliases)
        if problems:
            refused[part.test_id] = problems
            continue
        cells = []
        for other in key.parts:
            if other is part:
                cells += [(f"<your cell {grade_id}>", code) for grade_id, code in answers]
            else:
                cells += [(f"<model answer {grade_id}>", code) for grade_id, code in zip(other.answer_ids, other.answer_code)]
        tests.append({"id": part.test_id, "cells": cells, "code": part.test_code})
    return {"sandbox": sandbox, "setup": key.setup, "tests": tests}, refused


def filtered_model_answers(part: Part, aliases: dict[str, str]) -> list[str]:
    """The model answers of a part as the grader loads them; the solution must pass the check."""
    code = []
    for answer_id, source in zip(part.answer_ids, part.answer_code):
        kept, problems = filter_answer(source, part.writes, aliases)
        if problems:
            raise ValueError(f"the model answer {answer_id!r} fails the grader's syntax check: {'; '.join(problems)}")
        code.append(kept)
    return code


def write_key(path: Path, solution, key: Path, timeout: float, user: str = "nobody") -> list[Path]:
    """Grade the solution notebook itself and store its recorded values as the reference."""
    import numpy as np

    setup, parts, manual = parts_of(solution)
    aliases = setup_aliases(setup)
    for part in parts:
        part.answer_code = filtered_model_answers(part, aliases)
    k = Key(path.stem, setup, parts, manual)
    results = grade_in_sandbox(k, solution, timeout, user_name=user, deny=[], run_kernel=False)
    reference = {}
    for part in parts:
        report = results.reports.get(part.test_id)
        if report is None or "values" not in report:
            why = report.get("error") if report else results.why
            raise ValueError(f"{path}: the model answer does not pass its own test {part.test_id!r}: {why}")
        for name, (value, atol, rtol) in report["values"].items():
            part.checks[name] = {"atol": atol, "rtol": rtol}
            reference[f"{part.test_id}/{name}"] = decode(value)
    key.mkdir(parents=True, exist_ok=True, mode=0o700)
    key.chmod(0o700)
    json_path, npz_path = key_paths(key, path.stem)
    document = {"assignment": path.stem, "source_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "setup": setup, "manual": manual, "parts": [part.__dict__ for part in parts]}
    write_private(json_path, json.dumps(document, indent=1).encode())
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **reference)
    write_private(npz_path, buffer.getvalue())
    return [json_path, npz_path]


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_keys(key: Path) -> list[Key]:
    """Every assignment of a key folder."""
    import numpy as np

    if not key.is_dir():
        raise FileNotFoundError(f"key folder {key} does not exist (write it with: classroom.py release --out handout/ --key {key})")
    keys = []
    for json_path in sorted(key.glob("*.json")):
        doc = json.loads(json_path.read_text())
        with np.load(key_paths(key, json_path.stem)[1], allow_pickle=False) as npz:
            reference = {name: npz[name] for name in npz.files}
        parts = [Part(**p) for p in doc["parts"]]
        keys.append(Key(doc["assignment"], doc["setup"], parts, [tuple(m) for m in doc["manual"]], reference))
    if not keys:
        raise FileNotFoundError(f"no assignments in the key folder {key}")
    return keys


# ================================================================ grading one submission
@dataclass
class Results:
    reports: dict[str, dict]  # test_id -> {"values": ...} or {"error": ...}
    refused: dict[str, list[str]]
    why: str | None  # why the test process stopped early
    started: str | None  # the test that was running when it stopped
    notebook: str  # how the kernel run went


def make_folders(private: Path, nb, name: str, user) -> tuple[Path, Path]:
    """The kernel's folder (the notebook alone) and the test process's (empty), owned by ``user``."""
    import nbformat

    work, tests = private / "work", private / "tests"
    work.mkdir()
    tests.mkdir()
    nbformat.write(nb, work / f"{name}.ipynb")
    if user:
        os.chmod(private, 0o711)  # others may pass through, not list
        for path in (work, tests, work / f"{name}.ipynb"):
            os.chown(path, *user)
    return work, tests


def in_background(fn, *args):
    """Run ``fn(*args)`` in a thread; returns a function that waits for its result."""
    import threading

    box = {}
    thread = threading.Thread(target=lambda: box.update(result=fn(*args)), daemon=True)
    thread.start()

    def result():
        thread.join()
        return box["result"]

    return result


def grade_in_sandbox(key: Key, nb, timeout: float, user_name: str, deny: list[str], run_kernel: bool = True,
                     executed: Path | None = None) -> Results:
    """Grade one parsed notebook in a temporary folder of its own: the tests and the student's
    notebook run side by side, each in a sub-folder; then whatever they left is killed."""
    import nbformat

    user = unprivileged_user(user_name)
    with tempfile.TemporaryDirectory(prefix="classroom_") as private:
        work, tests = make_folders(Path(private), nb, key.name, user)
        job, refused = test_job(key, nb, {"folder": str(tests), "deny": [*deny, str(work)], "user": user})
        try:
            tested = in_background(run_tests, job, tests, timeout)
            notebook = "not run"
            if run_kernel:
                sandbox = {"folder": str(work), "deny": [*deny, str(tests)], "user": user}
                notebook = execute_notebook(nb, sandbox, work, Path(private, "kernels"), timeout)
            reports, why = tested()
        finally:
            kill_descendants()
        if executed is not None and run_kernel:
            executed.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, executed)
    done = {r["test"]: r for r in reports if "test" in r}
    started = [r["start"] for r in reports if "start" in r]
    running = started[-1] if started and started[-1] not in done else None
    return Results(done, refused, why, running, notebook)


def compare(part: Part, report: dict, reference: dict) -> tuple[bool, str]:
    """(passed, status) of one part from the values its test recorded."""
    import numpy as np

    if "error" in report:
        return False, f"failed: {report['error']}"
    values = report["values"]
    for name, tol in part.checks.items():
        expected = reference[f"{part.test_id}/{name}"]
        if name not in values:
            return False, f"failed: {name}: the test did not record it"
        got = decode(values[name][0])
        if got.shape != expected.shape:
            return False, f"failed: {name}: expected shape {expected.shape}, got {got.shape}"
        if expected.dtype == bool or got.dtype == bool:
            ok = np.array_equal(got, expected)
        else:
            ok = np.allclose(got.astype(np.float64), expected.astype(np.float64), atol=tol["atol"], rtol=tol["rtol"])
        if not ok:
            return False, one_line(f"failed: {name}: {mismatch(got, expected, tol)}")
    return True, "passed"


def mismatch(got, expected, tol) -> str:
    import numpy as np

    if expected.dtype == bool or got.dtype == bool:
        return f"{int((got != expected).sum())} of {expected.size} values differ from the model answer's"
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    bad = ~(diff <= tol["atol"] + tol["rtol"] * np.abs(expected.astype(np.float64)))
    largest = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
    return f"{int(bad.sum())} of {expected.size} values differ from the model answer's (largest difference {largest:.3g})"


def part_status(part: Part, results: Results, reference: dict) -> tuple[float, str]:
    """Points and status of one part."""
    if part.test_id in results.refused:
        return 0.0, one_line("failed: not graded: " + "; ".join(results.refused[part.test_id]))
    report = results.reports.get(part.test_id)
    if report is not None:
        passed, status = compare(part, report, reference)
        return (part.points if passed else 0.0), status
    if results.started == part.test_id and results.why:
        return 0.0, results.why
    if results.why and results.why.startswith("timeout"):
        return 0.0, "not run: the time limit came before this test"
    return 0.0, f"not run: {results.why or 'the test process stopped'}"


@dataclass(frozen=True)
class Row:
    """One line of the grades CSV; ``points`` is None where the teacher still has to grade."""

    student: str
    assignment: str
    test: str
    points: float | None
    max_points: float
    status: str
    manual: bool


def failed_rows(student: str, key: Key, status: str) -> list[Row]:
    rows = [Row(student, key.name, p.test_id, 0.0, p.points, status, False) for p in key.parts]
    rows += [Row(student, key.name, g, 0.0, pts, status, True) for g, pts in key.manual]
    return rows + [Row(student, key.name, NOTEBOOK_ROW, None, 0.0, status, False)]


def has_answer(nb, grade_id: str) -> bool:
    return any(nbgrader(c).get("grade_id") == grade_id for c in nb.cells)


def grade_submission(student: str, key: Key, data: bytes | None, timeout: float, user: str, deny: list[str],
                     executed: Path | None) -> list[Row]:
    """The rows of one student's notebook for one assignment."""
    import nbformat

    if data is None:
        return failed_rows(student, key, "missing: no such notebook")
    try:
        nb = nbformat.reads(data.decode(), as_version=4)
    except Exception as e:  # any broken file: a zero for this notebook, never a crashed grader
        return failed_rows(student, key, one_line(f"unreadable: {error_text(e)}"))
    results = grade_in_sandbox(key, nb, timeout, user, deny, executed=executed)
    rows = []
    for part in key.parts:
        points, status = part_status(part, results, key.reference)
        rows.append(Row(student, key.name, part.test_id, points, part.points, status, False))
    for grade_id, points in key.manual:
        status = "manual: graded by the teacher" if has_answer(nb, grade_id) else "failed: the answer cell was deleted"
        rows.append(Row(student, key.name, grade_id, None if status.startswith("manual") else 0.0, points, status, True))
    return rows + [Row(student, key.name, NOTEBOOK_ROW, None, 0.0, results.notebook, False)]


def students_in(submissions: Path) -> list[Path]:
    """The student folders of a submissions folder (hidden folders skipped)."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"no student folders in {submissions} (expected {submissions}/<student>/<assignment>.ipynb)")
    return students


def snapshot(submissions: Path, keys: list[Key]) -> dict[tuple[str, str], bytes | None]:
    """Every submitted notebook, read before any is run (so no student can change another's)."""
    files = {}
    for student in students_in(submissions):
        for key in keys:
            path = student / f"{key.name}.ipynb"
            files[student.name, key.name] = path.read_bytes() if path.is_file() else None
    return files


def grade(submissions: Path, keys: list[Key], timeout: float = 120, user: str = "nobody", deny: list[str] = (),
          executed: Path | None = None) -> list[Row]:
    """Grade every student's copy of every assignment of the key; one row per student, assignment, test."""
    if not timeout > 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {timeout:g}")
    files = snapshot(submissions, keys)
    unprivileged_user(user)  # fails early when root and the user does not exist
    become_subreaper()
    deny = [str(submissions), str(HERE), *deny]
    rows = []
    for (student, name), data in files.items():
        key = next(k for k in keys if k.name == name)
        t0 = time.perf_counter()
        copy_path = executed / student / f"{name}.ipynb" if executed else None
        mine = grade_submission(student, key, data, timeout, user, deny, copy_path)
        rows += mine
        got = sum(r.points or 0 for r in mine if not r.manual)
        print(f"{student}/{name}.ipynb: {got:g}/{sum(p.points for p in key.parts):g} points "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    kill_descendants()
    return rows


# ================================================================ the CSV files
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


def csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_csvs(rows: list[Row], out: Path) -> tuple[Path, Path]:
    """The grades CSV (one row per test) and ``<out>_totals.csv`` beside it, each written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [[r.student, r.assignment, r.test, "" if r.points is None else f"{r.points:g}", f"{r.max_points:g}", r.status]
             for r in rows]
    totals_path = out.with_name(f"{out.stem}_totals.csv")
    total_lines = [[t[f] for f in TOTAL_FIELDS] for t in totals(rows)]
    write_atomically(out, csv_text(FIELDS, lines))
    write_atomically(totals_path, csv_text(TOTAL_FIELDS, total_lines))
    return out, totals_path


# ================================================================ command line
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("release", help="write the student copies and the grading key")
    r.add_argument("notebooks", nargs="*", type=Path, help=f"solution notebooks (default: all in {HERE})")
    r.add_argument("--out", type=Path, required=True, help="folder for the student copies")
    r.add_argument("--key", type=Path, help="folder for the grading key (keep it private)")
    r.add_argument("--user", default="nobody", help="when run as root: the user the solutions' tests run as (default nobody)")
    g = sub.add_parser("grade", help="grade a folder of submissions")
    g.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    g.add_argument("--key", type=Path, required=True, help="the key folder written by release")
    g.add_argument("--out", type=Path, required=True, help="grades CSV (totals: <out>_totals.csv; executed copies: <out>_notebooks/)")
    g.add_argument("--timeout", type=float, default=120, help="seconds for the tests, and again for the notebook (default 120)")
    g.add_argument("--user", default="nobody", help="when run as root: the user the students' code runs as (default nobody)")
    return p


def run_release(args) -> None:
    for path in args.notebooks:
        if not path.is_file():
            raise FileNotFoundError(f"no such notebook: {path}")
    for path in release(args.notebooks or solution_notebooks(), args.out, args.key, user=args.user):
        print(f"wrote {path}")


def run_grade(args) -> None:
    keys = read_keys(args.key)
    executed = args.out.with_name(f"{args.out.stem}_notebooks")
    deny = [str(args.key), str(args.out.resolve().parent / f".{args.out.name}.tmp"), str(executed)]
    rows = grade(args.submissions, keys, args.timeout, args.user, deny, executed)
    for path in write_csvs(rows, args.out):
        print(f"wrote {path}")
    print(f"wrote the executed notebooks to {executed}/")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_test-process"]:
        return test_process_main(int(argv[1]))
    if argv[:1] == ["_kernel"]:
        kernel_main(argv[1], argv[2])
        return 0
    p = parser()
    args = p.parse_args(argv)
    try:
        if args.command == "release":
            run_release(args)
        else:
            if not args.timeout > 0:
                raise ValueError(f"--timeout must be > 0 seconds, got {args.timeout:g}")
            run_grade(args)
    except (FileNotFoundError, ValueError) as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
