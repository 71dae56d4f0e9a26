"""``python -m reprotorch.cli``."""

import sys

from reprotorch.cli import main

sys.exit(main())
