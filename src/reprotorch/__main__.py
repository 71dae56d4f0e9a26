"""``python -m reprotorch`` runs the command line."""

import sys

from reprotorch.cli import main

sys.exit(main())
