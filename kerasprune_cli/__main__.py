"""`python -m kerasprune_cli`: the `kerasprune` command."""

import sys

from kerasprune_cli import main

sys.exit(main())
