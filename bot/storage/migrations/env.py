"""Alembic environment: migrations run on a connection handed in by bot.storage.database."""

from alembic import context

from bot.storage.models import Base

if context.is_offline_mode():
    # `wagecheck db upgrade --dry-run --sql`: the SQL printed, nothing run.
    context.configure(
        dialect_name=context.config.get_main_option("dialect"),
        target_metadata=Base.metadata,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `wagecheck db upgrade`")

    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
