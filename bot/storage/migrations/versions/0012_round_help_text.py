"""where a worker gets help: rounds.help_text, per language, set by the round's CSO

rounds.help_text is JSON ({"en": …, "ur": …, "sd": …}); NULL (every existing round) means the
default text for the factory's region, from the catalogs.

Downgrade: the texts are dropped.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('help_text', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_column('help_text')
