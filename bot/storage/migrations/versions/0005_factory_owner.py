"""factories.cso_id: the CSO that registered a factory in the web portal

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('factories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cso_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_factories_cso_id'), ['cso_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_factories_cso_id_organisations'),
            'organisations',
            ['cso_id'],
            ['id'],
            ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('factories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_factories_cso_id_organisations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_factories_cso_id'))
        batch_op.drop_column('cso_id')
