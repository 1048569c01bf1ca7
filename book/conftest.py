"""nbval runs every chapter once; the book build reuses those outputs instead of running them again.

`make test` runs ``pytest --nbval-lax book`` and then ``jupyter-book build book``. Both would
execute every chapter, so after nbval has run a chapter whose cells all passed, this hook stores
the executed notebook in the book's execution cache (``_build/.jupyter_cache``, the one that
``execute_notebooks: cache`` in ``_config.yml`` reads). The build then renders those outputs;
a chapter that is not in the cache, or whose code changed since, is executed by the build as
before. `make test` empties the cache first, so what it renders is always this run's outputs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import nbformat

CACHE = Path(__file__).parent / "_build" / ".jupyter_cache"
_failed: set[str] = set()
_started: dict[str, float] = {}
_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if report.failed or report.skipped:
        _failed.add(path)
    if report.when == "call":
        _seconds[path] += report.duration


def executed_notebook(path: Path, cells) -> nbformat.NotebookNode | None:
    """The notebook at ``path`` with the outputs nbval recorded for its code cells, or None if incomplete."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(code) != len(cells) or any(item.test_outputs is None for item in cells):
        return None
    for count, (cell, item) in enumerate(zip(code, cells), start=1):
        assert cell.source == item.cell.source, f"{path}: cells out of order"
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(dict(out)) for out in item.test_outputs]
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
    nbformat.validate(nb)
    return nb


def pytest_sessionfinish(session, exitstatus):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    by_file = defaultdict(list)
    for item in session.items:
        if hasattr(item, "test_outputs"):  # an nbval cell
            by_file[Path(item.path)].append(item)
    for path, cells in by_file.items():
        rel = cells[0].nodeid.split("::")[0]
        nb = None if rel in _failed else executed_notebook(path, cells)
        if nb is not None:
            bundle = CacheBundleIn(nb, str(path), data={"execution_seconds": round(_seconds[rel], 1), "cached_at": time.time()})
            get_cache(CACHE).cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
