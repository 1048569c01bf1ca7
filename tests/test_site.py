"""The built book as a reader gets it (``book/_build/html``).

These tests read the site that ``jupyter-book build book`` wrote, so ``make test`` runs them
after the build (``pytest -m site``); a plain ``pytest`` leaves them out (``-m "not site"`` in
pyproject.toml). Run without a built book, they fail: there is nothing to check.
"""

import html as html_module
import re

import pytest

from test_assignments import BOOK, SOLUTIONS, _read, _secret_lines, classroom

pytestmark = pytest.mark.site
HTML = BOOK / "_build" / "html"


@pytest.fixture(scope="module")
def pages():
    """Every text file of the site: HTML as a reader sees it (tags removed, entities unescaped)."""
    assert HTML.is_dir(), f"{HTML} does not exist: build the book first (jupyter-book build book)"
    out = {}
    for path in HTML.rglob("*"):
        if path.suffix in (".html", ".ipynb", ".txt", ".md", ".py"):
            text = path.read_text(errors="replace")
            if path.suffix == ".html":
                text = html_module.unescape(re.sub(r"<[^>]+>", "", text))
            out[path] = text
    return out


def test_the_built_site_shows_no_solution_and_no_model_answer(pages):
    assert any("handouts" in str(p) for p in pages), "the student copies are not on the site"
    assert not (HTML / "assignments").exists(), "the solution notebooks were built"
    for solution in SOLUTIONS:
        distinctive = [line for line in _secret_lines(_read(solution)) if len(line) >= 30]  # not "for n in Ns:"
        assert len(distinctive) >= 20, solution.name
        for line in distinctive:
            found = [str(p.relative_to(HTML)) for p, text in pages.items() if line in text]
            assert not found, f"{line!r} of {solution.name} is on the site: {found}"
    assert not [p for p, text in pages.items() if "A model answer" in text]
    for marker in (classroom.BEGIN_SOLUTION, classroom.BEGIN_HIDDEN, "check("):  # the teachers' page may name the markers
        assert not [p for p, text in pages.items() if marker in text and "handouts" in str(p)], marker
