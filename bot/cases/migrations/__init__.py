"""Alembic migrations of the case store, run by `CaseStore.open()` / `migrate()` (see `env.py`).

To write the next revision from a checkout, against a database at the current head::

    DATABASE_URL=sqlite+aiosqlite:///callmod.db .venv/bin/alembic \\
        -c bot/cases/migrations/alembic.ini revision --autogenerate --rev-id 0002 -m "what"

`alembic.ini` names files `r<rev>_<slug>.py`, so every revision is an importable module name.
Run the new revision on SQLite and PostgreSQL (tests/cases/test_migrations.py does).
"""
