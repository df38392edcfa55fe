"""Storage: the SQLAlchemy models, the repository (every query), content-addressed files, the
packed measure series, and the Alembic migrations."""
