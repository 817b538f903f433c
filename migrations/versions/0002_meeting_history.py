"""meeting history: an append-only record of every change syncd made and every failure

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("graph_request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("salesforce_call", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    # history_of reads one meeting's entries in order.
    with op.batch_alter_table("meeting_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meeting_history_meeting", ["tenant", "source", "external_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meeting_history", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_history_meeting")
    op.drop_table("meeting_history")
