"""operator state per tenant (pause, doctor, last poll, API usage, throttling)

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-03 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_state",
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("paused_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("pause_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("doctor_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("doctor_ok", sa.Boolean(), nullable=True),
        sa.Column("doctor_report", sa.JSON(), nullable=True),
        sa.Column("poll_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("poll_records", sa.Integer(), nullable=True),
        sa.Column("lag_p50_seconds", sa.Float(), nullable=True),
        sa.Column("lag_max_seconds", sa.Float(), nullable=True),
        sa.Column("salesforce_used", sa.Integer(), nullable=True),
        sa.Column("salesforce_max", sa.Integer(), nullable=True),
        sa.Column("salesforce_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("graph_throttled", sa.Integer(), nullable=False),
        sa.Column("graph_seconds_waited", sa.Float(), nullable=False),
        sa.Column("graph_throttled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )


def downgrade() -> None:
    op.drop_table("tenant_state")
