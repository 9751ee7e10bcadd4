"""`python -m relevent.ctl`."""

from relevent.ctl.cli import main

raise SystemExit(main())
