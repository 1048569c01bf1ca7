"""``python -m cgan_minimal`` runs the command line (see :mod:`cgan_minimal.cli`)."""

import sys

from .cli import main

sys.exit(main())
