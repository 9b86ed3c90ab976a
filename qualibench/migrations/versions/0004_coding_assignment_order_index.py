"""codingassignment: index for an auditor's previous / next reply

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:45:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('codingassignment', schema=None) as batch_op:
        batch_op.create_index('ix_codingassignment_order', ['campaign_id', 'reviewer', 'rubric_version', 'reply_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('codingassignment', schema=None) as batch_op:
        batch_op.drop_index('ix_codingassignment_order')
