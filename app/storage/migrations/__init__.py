"""Alembic migrations, packaged so an installed service can migrate itself (`app.core.db.migrate`).

Maintainers create a revision with `python -m app.storage.migrations revision -m "what changed"`.
"""
