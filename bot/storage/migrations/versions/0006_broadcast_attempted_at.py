"""broadcast messages: attempted_at (a claim that expired after the hand-over is in doubt)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('broadcast_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('broadcast_messages', schema=None) as batch_op:
        batch_op.drop_column('attempted_at')
