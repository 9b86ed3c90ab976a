"""team on one database: probe claims, event-chain head, evidence bytes in the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import qualibench.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('probe', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', qualibench.models.UTCDateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        'eventhead',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('updated_at', qualibench.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.PrimaryKeyConstraint('campaign_id'),
    )
    op.create_table(
        'evidenceblob',
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('sha256'),
    )
    # Existing campaigns: the head is where their chain ends today.
    op.execute(
        "INSERT INTO eventhead (campaign_id, seq, hash, updated_at) "
        "SELECT e.campaign_id, e.seq, e.hash, e.at FROM event e "
        "WHERE e.seq = (SELECT max(x.seq) FROM event x WHERE x.campaign_id = e.campaign_id)"
    )


def downgrade() -> None:
    op.drop_table('evidenceblob')
    op.drop_table('eventhead')
    with op.batch_alter_table('probe', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
