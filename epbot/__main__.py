"""``python -m epbot``."""

from epbot.cli import main

raise SystemExit(main())
