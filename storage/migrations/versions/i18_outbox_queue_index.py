"""The outbox's claim index: (state, workspace_id, id, not_before) instead of (state, not_before).

A claim now reads the first due messages of each workspace with messages pending, one
indexed range each; the old index served a window over every pending message, whose cost
grew with the size of the fan-out still queued. ``not_before`` rides along so that messages
waiting for a retry (during a platform's outage, a whole fan-out's) are passed over from the
index alone.

Revision ID: i18_outbox_queue_index
Revises: i18_round_polls_queued
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "i18_outbox_queue_index"
down_revision: str | None = "i18_round_polls_queued"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_due")
        batch.create_index(
            "ix_outbox_queue", ["state", "workspace_id", "id", "not_before"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_queue")
        batch.create_index("ix_outbox_due", ["state", "not_before"], unique=False)
