"""The fault taxonomy (policy 2.3): supervisors keep the groups and faults diagnoses are classified by."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fieldservice.blueprints.taxonomy.operations import active_fault_choices
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Diagnosis, FaultCategory
from fieldservice.models.diagnosis import SUBMITTED


@pytest.fixture
def tree(app):
    electrical = FaultCategory(code="electrical", name_en="Electrical", name_zh="电气", position=0)
    power = FaultCategory(code="power_supply", name_en="Power supply", name_zh="电源", parent=electrical, position=0)
    wiring = FaultCategory(code="wiring", name_en="Wiring", name_zh="线路", parent=electrical, position=1)
    mechanical = FaultCategory(code="mechanical", name_en="Mechanical", name_zh="机械", position=1)
    db.session.add_all([electrical, power, wiring, mechanical])
    db.session.commit()
    return {"electrical": electrical, "power": power, "wiring": wiring, "mechanical": mechanical}


def categories() -> list[tuple[str, str, str, bool, str | None]]:
    db.session.expire_all()
    rows = db.session.scalars(select(FaultCategory).order_by(FaultCategory.id))
    return [(c.code, c.name_en, c.name_zh, c.active, c.parent.code if c.parent else None) for c in rows]


def test_supervisor_sees_groups_with_their_faults_in_both_languages(login, tree):
    page = login("supervisor").get("/fault-categories").get_data(as_text=True)
    assert 'id="category-add"' in page
    listing = page[page.index("fault-group"):]  # below the add form (its select names the groups too)
    assert (listing.index("Electrical") < listing.index("Power supply") < listing.index("Wiring")
            < listing.index("Mechanical"))
    assert "电源" in listing and "power_supply" in listing
    assert "No faults in this group yet." in page  # Mechanical


def test_supervisor_adds_a_group_and_a_fault_under_it(login, tree):
    client = login("supervisor")
    response = client.post_form("/fault-categories", {"parent_id": "0", "code": "hydraulic",
                                                      "name_en": "Hydraulic", "name_zh": "液压"})
    assert response.status_code == 303
    group = db.session.scalar(select(FaultCategory).where(FaultCategory.code == "hydraulic"))
    assert group.parent_id is None and group.active and group.position == 2
    response = client.post_form("/fault-categories", {"parent_id": str(group.id), "code": "oil_leak",
                                                      "name_en": "Oil leak", "name_zh": "漏油"},
                                htmx_target="category-add")
    assert response.status_code == 204 and "/fault-categories" in response.headers["HX-Redirect"]
    leak = db.session.scalar(select(FaultCategory).where(FaultCategory.code == "oil_leak"))
    assert leak.parent_id == group.id and leak.name_zh == "漏油"
    page = client.get("/fault-categories").get_data(as_text=True)
    assert "“Oil leak” added" in page or "Oil leak" in page
    assert ("液压", [(leak.id, "漏油")]) in active_fault_choices("zh")
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.entity_type == "fault_category")) == 2


def test_duplicate_code_is_refused_with_a_message_and_nothing_changes(login, tree):
    client = login("supervisor")
    before = categories()
    response = client.post_form("/fault-categories", {"parent_id": str(tree["electrical"].id), "code": "wiring",
                                                      "name_en": "Wiring again", "name_zh": "线路二"},
                                htmx_target="category-add")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith("{% from") is False and 'id="category-add"' in body and "<html" not in body
    assert "already used by “Wiring”" in body
    assert 'value="Wiring again"' in body and 'value="线路二"' in body  # the values are kept
    assert categories() == before
    # Without JavaScript: the whole page, the form with the message and values, 422.
    response = client.post_form("/fault-categories", {"parent_id": "0", "code": "electrical",
                                                      "name_en": "Electric", "name_zh": "电"})
    assert response.status_code == 422 and "<html" in response.get_data(as_text=True)
    assert "already used by “Electrical”" in response.get_data(as_text=True)
    assert categories() == before


@pytest.mark.parametrize("code", ["Power", "power supply", "电源", "a-b", "", "x" * 41])
def test_codes_are_lowercase_letters_digits_and_underscores(login, tree, code):
    client = login("supervisor")
    before = categories()
    response = client.post_form("/fault-categories", {"parent_id": "0", "code": code,
                                                      "name_en": "Name", "name_zh": "名称"},
                                htmx_target="category-add")
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    assert categories() == before


def test_both_names_are_required(login, tree):
    response = login("supervisor").post_form("/fault-categories", {"parent_id": "0", "code": "noise",
                                                                    "name_en": "Noise", "name_zh": " "},
                                             htmx_target="category-add")
    assert response.status_code == 422 and "Enter the Chinese name." in response.get_data(as_text=True)
    assert db.session.scalar(select(FaultCategory).where(FaultCategory.code == "noise")) is None


def test_supervisor_renames_a_fault_and_the_code_stays(login, tree):
    client = login("supervisor")
    power = tree["power"]
    response = client.post_form(f"/fault-categories/{power.id}",
                                {"action": "rename", "name_en": "Power supply unit",
                                 "name_zh": "电源模块"},
                                htmx_target=f"category-{power.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'id="category-{power.id}"' in body and "Power supply unit" in body and "Names saved." in body
    db.session.expire_all()
    assert (power.code, power.name_en, power.name_zh) == ("power_supply", "Power supply unit", "电源模块")


def test_renaming_to_an_empty_name_is_refused_in_place(login, tree):
    client = login("supervisor")
    wiring = tree["wiring"]
    response = client.post_form(f"/fault-categories/{wiring.id}",
                                {"action": "rename", "name_en": "",
                                 "name_zh": "线"},
                                htmx_target=f"category-{wiring.id}")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Enter the English name." in body and 'value="线"' in body and " open" in body
    db.session.expire_all()
    assert wiring.name_en == "Wiring"


def test_deactivated_fault_is_not_offered_but_old_records_keep_it(login, make, tree):
    job = make.job("resolved")
    old = Diagnosis(job=job, version=1, status=SUBMITTED, technician_id=job.technician_id,
                    fault_category=tree["wiring"], submitted_dt=job.created_dt, outcome="fixed")
    db.session.add(old)
    db.session.commit()
    client = login("supervisor")
    wiring = tree["wiring"]
    response = client.post_form(f"/fault-categories/{wiring.id}", {"action": "deactivate"})
    assert response.status_code == 303
    db.session.expire_all()
    assert not wiring.active
    assert active_fault_choices("en") == [("Electrical", [(tree["power"].id, "Power supply")])]
    assert db.session.get(Diagnosis, old.id).fault_category.code == "wiring"
    assert "Deactivated" in client.get("/fault-categories").get_data(as_text=True)
    ledger = login("dispatcher").get("/ledger").get_data(as_text=True)
    assert "Electrical › Wiring" in ledger

    response = client.post_form(f"/fault-categories/{wiring.id}", {"action": "activate"},
                                htmx_target=f"category-{wiring.id}")
    assert response.status_code == 200 and "Offered in new diagnoses again." in response.get_data(as_text=True)
    db.session.expire_all()
    assert wiring.active
    assert (tree["wiring"].id, "线路") in active_fault_choices("zh")[0][1]


def test_deactivated_group_offers_none_of_its_faults(login, tree):
    electrical = tree["electrical"]
    login("supervisor").post_form(f"/fault-categories/{electrical.id}", {"action": "deactivate"})
    db.session.expire_all()
    assert active_fault_choices("en") == []  # Mechanical has no faults, Electrical is off


def test_unknown_category_is_404(login, tree):
    assert login("supervisor").post_form("/fault-categories/999999", {"action": "deactivate"}).status_code == 404


@pytest.mark.parametrize("role", ["technician", "dispatcher", "reviewer"])
def test_only_supervisors_edit_the_taxonomy(login, tree, role):
    client = login(role)
    before = categories()
    assert client.get("/fault-categories").status_code == 403
    assert client.post_form("/fault-categories", {"parent_id": "0", "code": "sneaky",
                                                  "name_en": "Sneaky", "name_zh": "偷偷"}).status_code == 403
    power = tree["power"]
    assert client.post_form(f"/fault-categories/{power.id}", {"action": "deactivate"}).status_code == 403
    assert categories() == before
