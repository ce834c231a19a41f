"""outbox: when a send actually started

A crash leaves claimed rows of two kinds: those whose post had begun (the message may have
arrived) and those still waiting their turn. Only the first kind is looked up on Slack before
sending again.

Revision ID: i13_outbox_send_started
Revises: i11_round_snapshots
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i13_outbox_send_started"
down_revision: str | None = "i11_round_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("send_started_at")
