"""`python -m kerasprune`: the `kerasprune` command (as `python -m kerasprune.cli`)."""

import sys

from kerasprune.cli import main

sys.exit(main())
