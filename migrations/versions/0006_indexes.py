"""indexes for the list pages and reports at scale (issue 7)

Each index names the query it serves (the same comment is on the model); bench/explain.py shows
the plans on a database of 1,000,000 jobs made by `flask seed-bulk` (bench/RESULTS.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 07:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# (table, index name, columns) in the order the models declare them.
INDEXES = (
    # dispatch.recent_jobs (all jobs, newest first); weekly_summary's jobs opened.
    ("jobs", "ix_jobs_created", ["created_dt", "id"]),
    # dispatch.recent_jobs filtered by status.
    ("jobs", "ix_jobs_status_created", ["status", "created_dt", "id"]),
    # dispatch.board_jobs: a region's jobs due today (the deadline range, any status).
    ("jobs", "ix_jobs_region_deadline", ["region_id", "arrival_deadline_dt"]),
    # statistics.weekly_summary: arrival deadlines missed in the week (all regions).
    ("jobs", "ix_jobs_deadline", ["arrival_deadline_dt"]),
    # statistics.weekly_summary: jobs resolved in the week.
    ("jobs", "ix_jobs_resolved", ["resolved_dt"]),
    # statistics.weekly_summary: jobs closed in the week.
    ("jobs", "ix_jobs_status_closed", ["status", "closed_dt"]),
    # statistics.fault_counts / week_fault_counts and the ledger's count: ledger rows joined to
    # their job's region and product, read from this index alone (index-only scan).
    ("jobs", "ix_jobs_region_product", ["id", "region_id", "product_id"]),
    # Replaces 0002's ix_diagnoses_status_submitted (status, submitted_dt): the ledger's rows newest
    # first (ORDER BY submitted_dt, id), the statistics' period of ledger rows, and their job ids,
    # so counts and the join to jobs read this index alone.
    ("diagnoses", "ix_diagnoses_ledger", ["status", "submitted_dt", "id", "job_id"]),
    # statistics.weekly_summary's complaints of the week; performance_candidates' quarter.
    ("complaints", "ix_complaints_logged", ["logged_dt"]),
    # complaints.follow_ups_query: calls made (status done), newest first.
    ("follow_ups", "ix_follow_ups_status_called", ["status", "called_dt", "id"]),
    # complaints.follow_ups_query for one region (pending calls by due time).
    ("follow_ups", "ix_follow_ups_region_status_due", ["region_id", "status", "due_dt"]),
    # statistics.weekly_summary's claims decided in the week; performance_candidates (4.4).
    ("claims", "ix_claims_decided", ["decided_dt"]),
    # claims.related_claims of an inspection; performance_candidates' join (4.4).
    ("claims", "ix_claims_inspection", ["inspection_id"]),
    # inspections.inspection_opening: every job page asks which inspection opened the job.
    ("inspections", "ix_inspections_follow_up_job", ["follow_up_job_id"]),
)


def upgrade():
    with op.batch_alter_table("diagnoses", schema=None) as batch_op:
        batch_op.drop_index("ix_diagnoses_status_submitted")
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    # inspections.inspections_query: newest first by coalesce(submitted_dt, started_dt), an
    # expression index (the page reads 25 rows instead of sorting every inspection).
    op.create_index("ix_inspections_recent", "inspections",
                    [sa.text("coalesce(submitted_dt, started_dt) DESC"), sa.text("id DESC")], unique=False)


def downgrade():
    op.drop_index("ix_inspections_recent", table_name="inspections")
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("diagnoses", schema=None) as batch_op:
        batch_op.create_index("ix_diagnoses_status_submitted", ["status", "submitted_dt"], unique=False)
