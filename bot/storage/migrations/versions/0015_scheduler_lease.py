"""the scheduler lease: one process at a time runs the scheduled jobs

scheduler_lease: one row per lease (today only "scheduler"): which process holds it and until
when. The holder renews it every few seconds; another process takes it with a conditional
UPDATE only once it has expired (docs/architecture.md "Scaling").

Revision ID: 0015
Revises: 0014
Create Date: 2027-01-10 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scheduler_lease',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease')),
    )


def downgrade() -> None:
    op.drop_table('scheduler_lease')
