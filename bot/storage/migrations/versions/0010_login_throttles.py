"""login_throttles replaces login_attempts: failed log-ins counted per (account, client
address) and per client address, with a progressive wait, instead of a lock-out of the account

login_attempts held one row per failure, keyed by the e-mail or by the client address; five
failures from anywhere locked the account for 15 minutes. login_throttles holds one row per key
(its count, its last failure, the end of its wait). The old rows are dropped: they counted at
most 15 minutes anyway.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles')),
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_login_throttles_last_failure_at'), ['last_failure_at'], unique=False
        )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempts_key'))
        batch_op.drop_index(batch_op.f('ix_login_attempts_at'))
    op.drop_table('login_attempts')


def downgrade() -> None:
    op.create_table(
        'login_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts')),
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempts_key'), ['key'], unique=False)
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_last_failure_at'))
    op.drop_table('login_throttles')
