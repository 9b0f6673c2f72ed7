"""claim review queue index: waiting claims, oldest first (issue 7)

claims.claims_query's default view for reviewers (and supervisors) lists the claims waiting for
review (status submitted, resubmitted or under review) oldest first by
coalesce(submitted_dt, opened_dt), id. Without an index on that expression PostgreSQL reads
every waiting claim and sorts them (16 ms on 43,670 claims, 3,167 waiting); with this partial
expression index it reads the page's 26 rows in order (0.35 ms), and the capped count of the
queue and the navigation's badge (review_queue_count) read the index alone. The index holds only
the waiting claims, which stay few while most claims are decided. bench/explain.py: "Claim review
queue".

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# models.claims.WAITING_FOR_REVIEW, as the queue's WHERE writes it (the planner uses a partial
# index only when the query's condition implies the index's).
WAITING = "status IN ('submitted', 'resubmitted', 'under_review')"


def upgrade():
    op.create_index("ix_claims_review_queue", "claims",
                    [sa.text("coalesce(submitted_dt, opened_dt)"), sa.text("id")], unique=False,
                    postgresql_where=sa.text(WAITING), sqlite_where=sa.text(WAITING))


def downgrade():
    op.drop_index("ix_claims_review_queue", table_name="claims")
