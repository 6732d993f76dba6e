"""Notes: a small mobile-backend HTTP API: notes in SQL (PostgreSQL, SQLite) or a cloud's document database
(DynamoDB, Firestore, Cosmos DB), files on disk or in a cloud's object store (S3, GCS, Azure Blob), an optional
Redis cache.

Run with ``python -m examples.notes_app`` from the repository root, or ``python -m notes_app``
with ``examples/`` on ``PYTHONPATH``. All configuration comes from environment variables;
see :mod:`.config`.
"""

__version__ = "1.2.0"
