"""inboundmessage: the index on sha256 alone dropped

Every lookup of a message by its digest names its campaign too, and the unique
(campaign_id, sha256) index answers those. The single-column index was never read but was
written on every stored message, at a random place (a digest is random): its pages grew
out of the cache as the table grew, so each message stored cost more the more there were.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:25:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_inboundmessage_sha256', table_name='inboundmessage')


def downgrade() -> None:
    op.create_index('ix_inboundmessage_sha256', 'inboundmessage', ['sha256'], unique=False)
