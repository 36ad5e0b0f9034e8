"""`python -m core`: the neural-style command line (see core.cli)."""

import sys

from core.cli import main

sys.exit(main())
