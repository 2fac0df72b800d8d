"""`python -m proxy.cli`: the `trackway` command."""

import sys

from proxy.cli import main

sys.exit(main())
