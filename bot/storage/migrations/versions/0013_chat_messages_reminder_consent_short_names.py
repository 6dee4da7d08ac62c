"""what a worker's phone keeps and what they are sent: chat message ids for deleting the chat,
reminder consent after "stop", a short neutral CSO name for reminders

chat_messages: the ids of a worker's Telegram chat messages (theirs and the bot's), under the
conversation's pseudonym, kept at most 48 hours (Telegram's limit for deleting them) so that
"delete" and "clear" can remove them from the phone.
conversations.remind: false after "stop" unless the worker asked for a reminder.
organisations.short_name: how reminders and invitations name the CSO.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'chat_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_key', sa.String(length=64), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages')),
    )
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_chat_messages_conversation_key'), ['conversation_key'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_chat_messages_sent_at'), ['sent_at'], unique=False)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('remind', sa.Boolean(), server_default=sa.text('true'), nullable=False)
        )
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('short_name', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('short_name')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('remind')
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_messages_sent_at'))
        batch_op.drop_index(batch_op.f('ix_chat_messages_conversation_key'))
    op.drop_table('chat_messages')
