"""Entry point for ``python -m examples.notes_app`` / ``python -m notes_app``."""

from .server import main

raise SystemExit(main())
