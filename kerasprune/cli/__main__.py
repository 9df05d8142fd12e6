"""`python -m kerasprune.cli`: the `kerasprune` command."""

import sys

from kerasprune.cli import main

sys.exit(main())
