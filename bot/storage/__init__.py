"""Storage adapter: SQLAlchemy 2 (async) models, database set-up and Alembic migrations."""

from bot.storage.database import Database, upgrade_database

__all__ = ["Database", "upgrade_database"]
