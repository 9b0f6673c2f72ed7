"""indexes for the service ledger's filters (issue 7)

ledger.ledger_query filters the diagnosis by its own columns (a fault group becomes the list of
its faults) and joins jobs and products only for a region or product model filter; ledger_page
counts at most LIST_COUNT_CAP + 1 rows, newest first when a period is set. Two indexes serve
that (the same comments are on the models); measured on a database of 1,000,000 jobs made by
`flask seed-bulk` (fs_bulk, after VACUUM ANALYZE):

- ix_diagnoses_ledger gains fault_category_id: the count of a period by fault (group) reads the
  index alone (90 days of a group: 2.4 -> 1.0 ms, no table reads), and by region + fault it
  reads each row's fault from the index, not from the table, before looking up its job.
- ix_jobs_product_id (product_id) becomes (product_id, id): the count by product model goes from
  the model's products to their job ids in the index alone. With (product_id) PostgreSQL read
  jobs in id order instead and, for the last 90 days, walked ~780,000 of them (0.5-0.6 s; now
  ~50 ms, most of it looking up each of those jobs' records).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 11:32:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# (table, index name, columns before, columns now): same names, wider indexes.
INDEXES = (
    ("diagnoses", "ix_diagnoses_ledger", ["status", "submitted_dt", "id", "job_id"],
     ["status", "submitted_dt", "id", "job_id", "fault_category_id"]),
    ("jobs", "ix_jobs_product_id", ["product_id"], ["product_id", "id"]),
)


def upgrade():
    for table, name, _before, now in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, now, unique=False)


def downgrade():
    for table, name, before, _now in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, before, unique=False)
