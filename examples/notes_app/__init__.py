"""Notes: a small mobile-backend HTTP API (notes in SQL, files on disk, optional Redis cache).

Run with ``python -m examples.notes_app`` from the repository root, or ``python -m notes_app``
with ``examples/`` on ``PYTHONPATH``. All configuration comes from environment variables;
see :mod:`.config`.
"""

__version__ = "1.1.0"
