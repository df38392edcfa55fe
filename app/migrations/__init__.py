"""Alembic migrations, packaged so an installed service can migrate itself (`app.db.migrate`).

Maintainers create a revision with `python -m app.migrations revision -m "what changed"`.
"""
