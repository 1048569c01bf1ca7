"""Keep the chapters' notebooks small in git: outputs are cleared, except where nbval checks them.

    python book/clean_notebooks.py             clean every chapter in book/ and every
                                               assignment in book/assignments/
    python book/clean_notebooks.py --execute   run each chapter first (refreshes the outputs
                                               of the cells marked ``# NBVAL_CHECK_OUTPUT``)

A cell whose source contains ``# NBVAL_CHECK_OUTPUT`` keeps its text outputs: ``pytest
--nbval-lax`` compares them with a fresh run, so the numbers the text quotes cannot drift.
Every other output, execution count and widget state is removed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

BOOK = Path(__file__).parent
CHECK = "# NBVAL_CHECK_OUTPUT"


def chapters(book: Path = BOOK) -> list[Path]:
    """The notebooks of the book, in file-name order: the chapters, then the assignments."""
    return sorted(book.glob("*.ipynb")) + sorted(book.glob("assignments/*.ipynb"))


def execute(nb: nbformat.NotebookNode, cwd: Path) -> None:
    """Run a notebook in place in a fresh kernel (the book's own kernel spec)."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Clear outputs and counts; keep the text outputs of the checked cells."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            cell.pop("attachments", None)
            continue
        cell.metadata.pop("execution", None)
        if CHECK in cell.source:
            cell.outputs = [_text_only(o) for o in cell.outputs if o.output_type in ("stream", "execute_result")]
            cell.outputs = [o for o in cell.outputs if o is not None]
        else:
            cell.outputs = []
        # nbval compares only cells that look run; 1 marks a kept reference output, not an order
        cell.execution_count = 1 if cell.outputs else None
    return nb


def _text_only(output):
    if output.output_type == "stream":
        return output if output.name == "stdout" else None
    if "text/plain" not in output.get("data", {}):
        return None
    output.data = {"text/plain": output.data["text/plain"]}
    output.execution_count = None
    output.metadata = {}
    return output


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter and assignment")
    p.add_argument("--execute", action="store_true", help="run each notebook before cleaning it")
    args = p.parse_args(argv)
    for path in args.notebooks or chapters():
        nb = nbformat.read(path, as_version=4)
        if args.execute:
            t0 = time.perf_counter()
            execute(nb, path.parent)
            print(f"{path.name}: ran in {time.perf_counter() - t0:.0f} s")
        nbformat.write(clean(nb), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
