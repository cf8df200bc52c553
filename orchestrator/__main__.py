"""`python -m orchestrator` is `rdv`."""

import sys

from .cli import main

sys.exit(main())
