"""nbval does not run the solutions: tests/test_assignments.py already runs each of them whole,
through the grader, and checks that it scores full marks and runs every cell."""

collect_ignore_glob = ["*.ipynb"]
