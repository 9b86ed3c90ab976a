"""reviewattempt: failed review sign-ins, counted by the login rate limit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:50:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import qualibench.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reviewattempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('client', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('at', qualibench.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('reviewattempt', schema=None) as batch_op:
        batch_op.create_index('ix_reviewattempt_name_at', ['name', 'at'], unique=False)
        batch_op.create_index('ix_reviewattempt_client_at', ['client', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reviewattempt', schema=None) as batch_op:
        batch_op.drop_index('ix_reviewattempt_client_at')
        batch_op.drop_index('ix_reviewattempt_name_at')
    op.drop_table('reviewattempt')
