"""The student copies stop at their first `raise NotImplementedError()`: nbval does not run them
(the solutions in book/assignments/ are run instead, and tests/test_assignments.py checks that
these copies are what `classroom.py release` makes of them)."""

collect_ignore_glob = ["*.ipynb"]
