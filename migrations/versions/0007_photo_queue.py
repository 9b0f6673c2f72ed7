"""photo retry queue: photos kept on the server while the object store is down (issue 7)

A photo that arrives while the store is unreachable is kept on the server's disk and its row
is added with status 'pending'; `flask photos-retry` (or a later upload) sends it and marks it
'stored'. Existing rows are all stored. Adding a column with a constant default does not
rewrite the table on PostgreSQL 11+; the partial index holds only the (few) pending rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='stored', nullable=False))
        batch_op.add_column(sa.Column('pending_name', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_photos_pending_name'), ['pending_name'])
        batch_op.create_check_constraint(batch_op.f('ck_photos_status'), "status IN ('stored', 'pending')")
        batch_op.create_index('ix_photos_pending', ['uploaded_dt', 'id'], unique=False,
                              postgresql_where=sa.text("status = 'pending'"),
                              sqlite_where=sa.text("status = 'pending'"))


def downgrade():
    # Pending photos have no objects in the store: downgrading with some waiting loses them.
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index('ix_photos_pending', postgresql_where=sa.text("status = 'pending'"),
                            sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_constraint(batch_op.f('ck_photos_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_photos_pending_name'), type_='unique')
        batch_op.drop_column('pending_name')
        batch_op.drop_column('status')
