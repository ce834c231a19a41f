"""rounds: when every invited person's poll was in the outbox

Opening a round and queueing its polls are two commits: a crash between them left a round
open whose polls were never sent. The scheduler now queues the polls of any open round
without this mark (queueing is idempotent), and a large round's polls are queued and sent
in chunks, the first chunk leaving while the rest are still being queued.

Revision ID: i18_round_polls_queued
Revises: i15_mirror_studies
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i18_round_polls_queued"
down_revision: str | None = "i15_mirror_studies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("polls_queued_at", sa.DateTime(timezone=True), nullable=True))
    # Rounds from before this column had their polls queued when they opened.
    op.execute("UPDATE rounds SET polls_queued_at = opened_at")


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("polls_queued_at")
