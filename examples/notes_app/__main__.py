"""Entry point for ``python -m examples.notes_app`` / ``python -m notes_app``."""

import sys

try:
    from .server import main
except ModuleNotFoundError as exc:  # a dependency is missing: say which and how to install it, in one line
    if exc.name is None or exc.name.split(".")[0] in ("examples", "notes_app"):
        raise
    print(
        f"notes_app: the Python package {exc.name.split('.')[0]!r} is not installed: "
        "pip install -r examples/notes_app/requirements.txt (or pip install 'mbops[app]')",
        file=sys.stderr,
    )
    raise SystemExit(1) from None

raise SystemExit(main())
