"""The book's notebooks: what every chapter must have, and that git holds them clean."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

BOOK = Path(__file__).parent.parent / "book"
CONFIG = yaml.safe_load((BOOK / "_config.yml").read_text())
TOC = yaml.safe_load((BOOK / "_toc.yml").read_text())
TEACHERS = "For teachers"  # the teacher's page and the assignments: checked in test_assignments.py
CHAPTERS = [c["file"] for part in TOC["parts"] if part["caption"] != TEACHERS for c in part["chapters"]]
PAGES = [TOC["root"], *CHAPTERS]


def _read(name):
    return nbformat.read(BOOK / f"{name}.ipynb", as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_toc_and_notebooks_agree():
    assert sorted(PAGES) == sorted(p.stem for p in BOOK.glob("*.ipynb"))
    assert len(CHAPTERS) >= 9


@pytest.mark.parametrize("name", PAGES)
def test_first_code_cell_installs_on_colab_only(name):
    first = _code(_read(name))[0].source
    assert 'if "google.colab" in sys.modules:' in first
    assert f"git+{CONFIG['repository']['url']}" in first  # the same repository as the launch buttons


@pytest.mark.parametrize("name", PAGES)
def test_chapter_shape(name):
    nb = _read(name)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in _code(nb))
    assert "**Goal.**" in nb.cells[0].source and "**Runtime" in nb.cells[0].source
    assert "## Summary" in text and "## Exercises" in text
    exercises = re.findall(r"```\{exercise\}", text)
    solutions = re.findall(r"```\{solution\}[^\n]*\n:class: dropdown", text)
    assert exercises and len(solutions) == len(exercises)
    assert "import cgan_minimal" in code and "cgan_minimal.set_seed(0)" in code


@pytest.mark.parametrize("name", PAGES)
def test_notebooks_are_stored_clean(name):
    nb = _read(name)
    assert "widgets" not in nb.metadata
    for cell in _code(nb):
        if "# NBVAL_CHECK_OUTPUT" not in cell.source:
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs stored for a cell nbval does not check"
        else:
            assert cell.outputs and cell.execution_count is not None, f"{name}: a checked cell needs its reference output"
        if "interact" in cell.source and "import" not in cell.source:
            assert "remove-output" in cell.metadata.get("tags", []), f"{name}: a widget cell must not show output on the site"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapters_use_the_library_not_copies(name):
    code = "\n".join(c.source for c in _code(_read(name)))
    for fn in ("def xdog(", "def contextual_loss(", "def best_of_n(", "def complete(", "class Generator("):
        assert fn not in code, f"{name} redefines {fn}"


def test_launch_buttons_are_configured():
    buttons = CONFIG["launch_buttons"]
    assert buttons["colab_url"].startswith("https://colab") and buttons["binderhub_url"].startswith("https://")
    assert CONFIG["repository"]["url"].startswith("https://github.com/") and CONFIG["repository"]["path_to_book"] == "book"


# On the site a code cell's box holds 88 characters at its full width (tests/test_site.py
# checks in a browser that no cell scrolls sideways); longer lines make the reader scroll.
LINE = 88
NOTEBOOKS = [*sorted(BOOK.glob("*.ipynb")), *sorted(BOOK.glob("handouts/*.ipynb")),
             *sorted(BOOK.glob("assignments/*.ipynb"))]


@pytest.mark.parametrize("path", [pytest.param(p, id=str(p.relative_to(BOOK))) for p in NOTEBOOKS])
def test_code_lines_fit_a_code_cell_on_the_site(path):
    assert len(NOTEBOOKS) >= 17
    nb = nbformat.read(path, as_version=4)
    long = [f"cell {i}, {len(line)} characters: {line[:60]}…"
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > LINE]
    assert not long, f"{path.name}: {len(long)} code lines over {LINE} characters:\n" + "\n".join(long)
