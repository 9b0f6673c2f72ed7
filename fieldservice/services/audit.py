"""Writing to the append-only audit trail (policy 3.5)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import AuditEvent, User, utcnow


def record_event(
    entity_type: str,
    entity_id: int,
    action: str,
    actor: User | None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    request_key: str | None = None,
    when=None,
) -> AuditEvent:
    """Append one event; the caller's transaction commits it with the change it describes."""
    event = AuditEvent(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor.id if actor else None,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        request_key=request_key,
        created_dt=when or utcnow(),
    )
    db.session.add(event)
    return event


def history(entity_type: str, entity_id: int) -> list[AuditEvent]:
    """A record's history, oldest first, with each event's actor (the pages show who did it:
    without it, one query per actor; issue 7)."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .options(joinedload(AuditEvent.actor))
            .order_by(AuditEvent.id)
        )
    )


def key_already_used(request_key: str | None) -> bool:
    """True when a transition with this client key was already applied."""
    if not request_key:
        return False
    return db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.request_key == request_key)
    ) is not None
