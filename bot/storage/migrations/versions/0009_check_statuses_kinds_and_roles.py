"""check statuses, kinds and roles: each such column takes only its StrEnum's values

bot/enums.py names what a round's or a response's status, an organisation's kind, a person's
role, a contact address's purpose and a broadcast message's kind and status may be; the
database now refuses anything else (a CHECK constraint each, named ck_<table>_<column>).
SQLite cannot add a constraint to a table: batch mode copies the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 19:50:00
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ROLES = ('admin', 'viewer')
CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    'organisations': {'kind': ('cso', 'brand')},
    'rounds': {'status': ('draft', 'scheduled', 'open', 'closed', 'published', 'cancelled')},
    'responses': {'status': ('in_progress', 'complete')},
    'contact_addresses': {'purpose': ('active', 'opt_in')},
    'members': {'role': ROLES},
    'invites': {'role': ROLES},
    'web_accounts': {'role': ROLES},
    'web_invites': {'role': ROLES},
    'broadcast_messages': {
        'kind': ('reminder', 'invitation', 'status', 'report'),
        'status': ('pending', 'sending', 'sent', 'blocked', 'skipped', 'failed', 'in_doubt'),
    },
}


def upgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, values in columns.items():
                allowed = ', '.join(f"'{v}'" for v in values)
                batch_op.create_check_constraint(
                    op.f(f'ck_{table}_{column}'), f'{column} IN ({allowed})'
                )


def downgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(f'ck_{table}_{column}'), type_='check')
