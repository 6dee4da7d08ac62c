"""what one CSO may learn of another's work: brand links per CSO, OS ids per register

brand_factories.cso_id: a link carries the results of one CSO's rounds (made by that CSO), or,
when None, of every CSO's rounds (the command line, shared register). Existing links on a
CSO's own factory become that CSO's; links on the shared register stay for every CSO, as they
were. The table gets an id (cso_id may be empty, so it cannot be part of the primary key), a
unique (brand, factory, CSO), and a partial unique index for the links of every CSO.

factories.os_id is no longer unique over the whole instance but within a register: one CSO's
own factories (unique cso_id, os_id), and the shared register (partial unique index), so two
CSOs may each register the same factory and neither learns it from a refusal.

The new brand_factories is made afresh (SQLite cannot change a primary key, and on PostgreSQL
the old table's constraint names are taken while it exists): its rows wait in a plain table.

Downgrade: links of a CSO on a factory of the shared register are dropped (made global they
would carry other CSOs' results); OS ids that two CSOs share keep the first factory's only.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

EVERY_CSO = sa.text('cso_id IS NULL')


def upgrade() -> None:
    op.create_table(
        'brand_factories_moving',
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('factory_id', sa.Integer(), nullable=False),
        sa.Column('cso_id', sa.Integer(), nullable=True),
    )
    op.execute(
        'INSERT INTO brand_factories_moving (brand_id, factory_id, cso_id) '
        'SELECT bf.brand_id, bf.factory_id, f.cso_id '
        'FROM brand_factories bf JOIN factories f ON f.id = bf.factory_id'
    )
    op.drop_table('brand_factories')
    _create_links()
    op.execute(
        'INSERT INTO brand_factories (brand_id, factory_id, cso_id) '
        'SELECT brand_id, factory_id, cso_id FROM brand_factories_moving'
    )
    op.drop_table('brand_factories_moving')

    with op.batch_alter_table('factories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_factories_os_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_factories_cso_id'), ['cso_id', 'os_id'])
    op.create_index(
        'uq_factories_shared_os_id',
        'factories',
        ['os_id'],
        unique=True,
        sqlite_where=EVERY_CSO,
        postgresql_where=EVERY_CSO,
    )


def _create_links() -> None:
    op.create_table(
        'brand_factories',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('factory_id', sa.Integer(), nullable=False),
        sa.Column('cso_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['brand_id'],
            ['organisations.id'],
            name=op.f('fk_brand_factories_brand_id_organisations'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['cso_id'],
            ['organisations.id'],
            name=op.f('fk_brand_factories_cso_id_organisations'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['factory_id'],
            ['factories.id'],
            name=op.f('fk_brand_factories_factory_id_factories'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_brand_factories')),
        sa.UniqueConstraint(
            'brand_id', 'factory_id', 'cso_id', name=op.f('uq_brand_factories_brand_id')
        ),
    )
    for column in ('brand_id', 'factory_id', 'cso_id'):
        op.create_index(
            op.f(f'ix_brand_factories_{column}'), 'brand_factories', [column], unique=False
        )
    op.create_index(
        'uq_brand_factories_every_cso',
        'brand_factories',
        ['brand_id', 'factory_id'],
        unique=True,
        sqlite_where=EVERY_CSO,
        postgresql_where=EVERY_CSO,
    )


def downgrade() -> None:
    op.drop_index('uq_factories_shared_os_id', table_name='factories')
    # Of factories sharing an OS id, all but the first lose it (the old index allows one).
    op.execute(
        'UPDATE factories SET os_id = NULL WHERE os_id IS NOT NULL AND id > '
        '(SELECT MIN(f.id) FROM factories f WHERE f.os_id = factories.os_id)'
    )
    with op.batch_alter_table('factories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_factories_cso_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_factories_os_id'), ['os_id'])

    op.create_table(
        'brand_factories_moving',
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('factory_id', sa.Integer(), nullable=False),
    )
    op.execute(
        'INSERT INTO brand_factories_moving (brand_id, factory_id) '
        'SELECT DISTINCT bf.brand_id, bf.factory_id '
        'FROM brand_factories bf JOIN factories f ON f.id = bf.factory_id '
        'WHERE bf.cso_id IS NULL OR bf.cso_id = f.cso_id'
    )
    op.drop_table('brand_factories')
    op.create_table(
        'brand_factories',
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('factory_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['brand_id'],
            ['organisations.id'],
            name=op.f('fk_brand_factories_brand_id_organisations'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['factory_id'],
            ['factories.id'],
            name=op.f('fk_brand_factories_factory_id_factories'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('brand_id', 'factory_id', name=op.f('pk_brand_factories')),
    )
    op.execute(
        'INSERT INTO brand_factories (brand_id, factory_id) '
        'SELECT brand_id, factory_id FROM brand_factories_moving'
    )
    op.drop_table('brand_factories_moving')
