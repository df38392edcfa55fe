"""Storage: the SQLAlchemy models, the repository (every query), content-addressed files (a directory or
S3), the sweep of deleted and unreferenced files, copies between stores, the packed measure series, and
the Alembic migrations."""
