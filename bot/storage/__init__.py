"""Storage adapter: SQLAlchemy 2 (async) models, database set-up and Alembic migrations."""

from bot.storage.database import Database, rowcount, upgrade_database

__all__ = ["Database", "rowcount", "upgrade_database"]
