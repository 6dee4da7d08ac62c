"""APScheduler's job table, created with the schema

APScheduler's SQLAlchemyJobStore creates its table on start (check, then create): two processes
starting at once on an empty database both see no table and one fails. Created here, it exists
before any scheduler starts; the layout is APScheduler 3.x's own (jobstores/sqlalchemy.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 06:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'apscheduler_jobs',
        sa.Column('id', sa.Unicode(length=191), nullable=False),
        sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
        sa.Column('job_state', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        if_not_exists=True,  # a database where a scheduler already made it
    )
    op.create_index(
        'ix_apscheduler_jobs_next_run_time', 'apscheduler_jobs', ['next_run_time'],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index('ix_apscheduler_jobs_next_run_time', table_name='apscheduler_jobs')
    op.drop_table('apscheduler_jobs')
