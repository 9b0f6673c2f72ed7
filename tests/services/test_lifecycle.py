"""The job lifecycle rules: which move is allowed from which state, and for whom."""
import pytest

from fieldservice.services.lifecycle import TransitionError, allowed_actions, check_move


@pytest.mark.parametrize("action, status, role, to_state", [
    ("assign", "new", "dispatcher", "assigned"),
    ("assign", "assigned", "dispatcher", "assigned"),
    ("start_travel", "assigned", "technician", "en_route"),
    ("check_in", "en_route", "technician", "on_site"),
    ("resolve", "on_site", "technician", "resolved"),
    ("escalate", "on_site", "technician", "escalated"),
    ("escalate", "new", "dispatcher", "escalated"),
    ("close", "resolved", "dispatcher", "closed"),
    ("cancel", "assigned", "dispatcher", "cancelled"),
    ("resolve", "on_site", "supervisor", "resolved"),  # a supervisor may do everything
])
def test_allowed_moves(action, status, role, to_state):
    assert check_move(action, status, role).to_state == to_state


@pytest.mark.parametrize("action, status, role", [
    ("check_in", "assigned", "technician"),   # must start travel first
    ("resolve", "en_route", "technician"),    # must be on site
    ("start_travel", "closed", "technician"),
    ("close", "on_site", "dispatcher"),
    ("cancel", "resolved", "dispatcher"),
    ("assign", "on_site", "dispatcher"),
    ("assign", "new", "technician"),          # wrong role
    ("start_travel", "assigned", "reviewer"),
    ("decide", "escalated", "dispatcher"),    # only supervisors decide escalations
    ("fly", "new", "supervisor"),
])
def test_illegal_moves_are_refused_with_a_message(app, action, status, role):
    with pytest.raises(TransitionError) as refused:
        check_move(action, status, role)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert str(refused.value).endswith(".")


def test_allowed_actions_for_a_technician_on_the_way():
    assert allowed_actions("en_route", "technician") == ["check_in", "escalate"]


def test_resolving_comes_from_a_submitted_record_not_from_a_button(app):
    """Policy 3.10: a job on site is resolved by submitting its diagnosis or inspection, so the
    service is in the ledger; the lifecycle buttons do not offer it and refuse it when asked."""
    assert allowed_actions("on_site", "technician") == ["escalate"]
    assert "resolve" not in allowed_actions("on_site", "supervisor")
    assert check_move("resolve", "on_site", "technician").to_state == "resolved"  # by the record
    for role in ("technician", "supervisor"):
        with pytest.raises(TransitionError) as refused:
            check_move("resolve", "on_site", role, by_hand=True)
        with app.test_request_context(headers={"Accept-Language": "en"}):
            assert "diagnosis or inspection record" in str(refused.value)
    with pytest.raises(TransitionError) as refused:  # the state is judged first
        check_move("resolve", "en_route", "technician", by_hand=True)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert "while the job is" in str(refused.value)
