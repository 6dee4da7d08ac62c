"""drop APScheduler's job table: the scheduler's jobs are derived from our tables now

APScheduler's synchronous SQLAlchemyJobStore ran on the event loop's thread and, on SQLite,
deadlocked with the bot's own transactions until "database is locked" stopped the scheduler
(bot/scheduler/runner.py). Rounds, the daily status and the prune are caught up from our own
tables at start instead; nothing in this table is needed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 08:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_apscheduler_jobs_next_run_time', table_name='apscheduler_jobs',
                  if_exists=True)
    op.drop_table('apscheduler_jobs', if_exists=True)


def downgrade() -> None:
    op.create_table(
        'apscheduler_jobs',
        sa.Column('id', sa.Unicode(length=191), nullable=False),
        sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
        sa.Column('job_state', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_apscheduler_jobs_next_run_time', 'apscheduler_jobs', ['next_run_time'],
    )
