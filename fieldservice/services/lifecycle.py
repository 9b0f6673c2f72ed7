"""The job lifecycle: which move is allowed from which state, and for whom.

new -> assigned -> en_route -> on_site -> resolved -> closed, plus escalated (policy 3.1)
and cancelled. Plain data and functions, so tests can check the rules directly.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..models.jobs import (
    ASSIGNED,
    CANCELLED,
    CLOSED,
    EN_ROUTE,
    ESCALATED,
    NEW,
    ON_SITE,
    RESOLVED,
)
from ..models.users import DISPATCHER, SUPERVISOR, TECHNICIAN


@dataclass(frozen=True)
class Move:
    """One allowed change of state: from which states, to which state, by which roles."""

    action: str
    from_states: tuple[str, ...]
    to_state: str | None  # None: decided at run time (escalation decision resumes)
    roles: tuple[str, ...]
    needs_reason: bool = False
    # Happens only by submitting the job's diagnosis or inspection record, never by a bare button:
    # every service is recorded in the service ledger (policy 3.10).
    by_record: bool = False


MOVES: dict[str, Move] = {
    m.action: m
    for m in (
        Move("assign", (NEW, ASSIGNED, EN_ROUTE), ASSIGNED, (DISPATCHER,)),
        Move("start_travel", (ASSIGNED,), EN_ROUTE, (TECHNICIAN,)),
        Move("check_in", (EN_ROUTE,), ON_SITE, (TECHNICIAN,)),
        Move("resolve", (ON_SITE,), RESOLVED, (TECHNICIAN,), by_record=True),
        Move("escalate", (NEW, ASSIGNED, EN_ROUTE, ON_SITE), ESCALATED, (TECHNICIAN, DISPATCHER), True),
        Move("decide", (ESCALATED,), None, (SUPERVISOR,), True),
        Move("close", (RESOLVED,), CLOSED, (DISPATCHER,)),
        Move("cancel", (NEW, ASSIGNED, EN_ROUTE, ESCALATED), CANCELLED, (DISPATCHER,), True),
    )
}


class TransitionError(Exception):
    """A move that is not allowed; str(error) is the message shown to the user."""


def check_move(action: str, current_status: str, role: str, by_hand: bool = False) -> Move:
    """Return the move if `role` may do `action` on a job in `current_status`, else raise.

    `by_hand`: asked for directly (a lifecycle button), not by submitting a record.
    """
    move = MOVES.get(action)
    if move is None:
        raise TransitionError(_l("Unknown action."))
    if role != SUPERVISOR and role not in move.roles:
        raise TransitionError(_l("Your role cannot do this to a job."))
    if current_status not in move.from_states:
        raise TransitionError(
            _l("This cannot be done while the job is %(status)s.", status=_status_label(current_status))
        )
    if by_hand and move.by_record:
        raise TransitionError(_l("Submit the job's diagnosis or inspection record: that resolves the job "
                                 "and puts the service in the ledger."))
    return move


def _status_label(status: str):
    from ..labels import STATUS_LABELS

    return STATUS_LABELS.get(status, status)


def allowed_actions(current_status: str, role: str) -> list[str]:
    """The moves a user with `role` could make by hand on a job in `current_status`."""
    return [
        m.action
        for m in MOVES.values()
        if current_status in m.from_states and (role == SUPERVISOR or role in m.roles) and not m.by_record
    ]
