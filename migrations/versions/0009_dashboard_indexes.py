"""indexes for the supervisor dashboard's counts and the technicians' claims badge (issue 7)

Each index names the query it serves (the same comment is on the model). Measured on a database
of 1,000,000 jobs made by `flask seed-bulk` (fs_bulk, after VACUUM ANALYZE).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# (table, index name, columns) in the order the models declare them.
INDEXES = (
    # claims.waiting_for_claimant_count (a technician's claims badge, every page): the ids of the
    # technician's jobs from the index alone (~1,900 table pages read before, 20 ms -> 1.5 ms);
    # performance's 5.1 count: the jobs of a technician no complaint of the quarter names.
    ("jobs", "ix_jobs_technician_id_id", ["technician_id", "id"]),
    # performance's 4.1-4.3 count: the quarter's complaints of a category, with all the count
    # reads (index-only scan; ~18,000 table page reads before).
    ("complaints", "ix_complaints_category_logged", ["category", "logged_dt", "technician_id", "job_id", "id"]),
)

# Replaces 0006's ix_complaints_logged (logged_dt), same name: the quarter's complaints with their
# job ids, for performance's 5.1 count (the jobs of technicians no complaint names), read from the
# index alone; weekly_summary and performance_candidates use it as before.
LOGGED_BEFORE, LOGGED_NOW = ["logged_dt"], ["logged_dt", "job_id"]

# performance's 4.4 count: the claims that have an inspection (few of all claims) by decision
# time, so the count reads the quarter's and looks up their inspections one by one; before,
# PostgreSQL hashed every passed centre-receipt inspection (a table scan, 20-50 ms).
INSPECTED = "inspection_id IS NOT NULL"


def upgrade():
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_logged")
        batch_op.create_index("ix_complaints_logged", LOGGED_NOW, unique=False)
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index("ix_claims_inspected_decided", ["decided_dt"], unique=False,
                              postgresql_where=sa.text(INSPECTED), sqlite_where=sa.text(INSPECTED))


def downgrade():
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_inspected_decided", postgresql_where=sa.text(INSPECTED),
                            sqlite_where=sa.text(INSPECTED))
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_logged")
        batch_op.create_index("ix_complaints_logged", LOGGED_BEFORE, unique=False)
