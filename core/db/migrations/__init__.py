"""vectorctl's Alembic environment, shipped inside the package and run by `core.db.migrate`."""
