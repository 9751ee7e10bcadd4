"""`python -m relevent` is `relevent-gw`."""

import sys

from relevent.cli import main

sys.exit(main())
