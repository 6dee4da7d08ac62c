"""the instance key's fingerprint: a database recognises the key it was written with

key_fingerprints: one row per version of the instance secret (docs/privacy.md "Keys"): a
fingerprint that reveals nothing of the key (an HMAC of a constant under a subkey of its
own), and from which round on the version makes respondent pseudonyms. Rows are written by the
application at its first start with a key (a migration has no key), and by `wagecheck keys
rotate`; a start with a key that does not match them is refused.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20 04:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'key_fingerprints',
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('rounds_from', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('version', name=op.f('pk_key_fingerprints')),
    )


def downgrade() -> None:
    op.drop_table('key_fingerprints')
