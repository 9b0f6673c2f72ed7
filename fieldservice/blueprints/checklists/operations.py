"""Checklist editing and inspection failure statistics (policy 4.3, 4.4). Functions flush; the route commits.

Every change saves a new version of the checklist through inspections' new_template_version:
a version that an inspection used is never changed, so inspections already done keep theirs.
The policy's four per-line checks cannot be removed (their wording can be changed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ...extensions import db
from ...models import ChecklistItem, ChecklistTemplate, Inspection, User
from ...models.inspections import ITEM_KINDS, PER_LINE, SCOPES
from ..inspections import operations as inspection_ops

CODE_RE = re.compile(r"^[a-z0-9_]+$")
CODE_MAX = 40
LABEL_MAX = 200
# Policy 4.3/4.4: staff inspect model, quantity, markings/labels and packaging appearance.
POLICY_CODES = ("model_matches", "quantity", "markings_labels", "packaging_appearance")
MOVES = ("up", "down")


class ChecklistError(Exception):
    """A change refused; `field` names the form field the message belongs beside (None: the whole form)."""

    def __init__(self, field: str | None, message):
        super().__init__(str(message))
        self.field = field
        self.message = message


# --- reading -----------------------------------------------------------------------------


def active_checklist() -> ChecklistTemplate | None:
    """The version new inspections use."""
    return inspection_ops.active_template()


def grouped_items(template: ChecklistTemplate | None) -> dict[str, list[ChecklistItem]]:
    """The items per shipment line and for the whole consignment, each in their order."""
    items = list(template.items) if template is not None else []
    return {scope: sorted((i for i in items if i.scope == scope), key=lambda i: i.position) for scope in SCOPES}


def versions_with_use(name: str = inspection_ops.TEMPLATE_NAME) -> list[tuple[ChecklistTemplate, int]]:
    """Every version, newest first, with how many inspections used it."""
    used = (select(Inspection.template_id, func.count(Inspection.id).label("n"))
            .group_by(Inspection.template_id).subquery())
    rows = db.session.execute(
        select(ChecklistTemplate, func.coalesce(used.c.n, 0))
        .outerjoin(used, used.c.template_id == ChecklistTemplate.id)
        .where(ChecklistTemplate.name == name).order_by(ChecklistTemplate.version.desc())
    ).all()
    return [(template, count) for template, count in rows]


def author_names(templates: list[ChecklistTemplate]) -> dict[int, str]:
    """Who saved each version (template id -> display name); the migration's first version has nobody."""
    ids = {t.created_by_id for t in templates if t.created_by_id is not None}
    if not ids:
        return {}
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
    return {t.id: names[t.created_by_id] for t in templates if t.created_by_id in names}


def inspections_using(template: ChecklistTemplate) -> int:
    return db.session.scalar(select(func.count(Inspection.id)).where(Inspection.template_id == template.id)) or 0


# --- editing -----------------------------------------------------------------------------


def _as_dicts(template: ChecklistTemplate | None) -> list[dict]:
    """The items as new_template_version takes them: per-line items first, then per-consignment."""
    groups = grouped_items(template)
    return [{"code": i.code, "label_en": i.label_en, "label_zh": i.label_zh, "kind": i.kind, "scope": i.scope}
            for scope in SCOPES for i in groups[scope]]


def _check_expected(template: ChecklistTemplate | None, expected_version: int | None) -> None:
    """Refuse an edit made on a page showing an older version (someone saved in between)."""
    if expected_version is not None and template is not None and template.version != expected_version:
        raise ChecklistError(None, _l("Someone saved version %(v)s of the checklist meanwhile. "
                                      "Here it is: check it and make your change again.", v=template.version))


def _check_labels(label_en: str, label_zh: str) -> tuple[str, str]:
    label_en, label_zh = (label_en or "").strip(), (label_zh or "").strip()
    if not label_en:
        raise ChecklistError("label_en", _l("Enter the English wording."))
    if not label_zh:
        raise ChecklistError("label_zh", _l("Enter the Chinese wording."))
    for field, value in (("label_en", label_en), ("label_zh", label_zh)):
        if len(value) > LABEL_MAX:
            raise ChecklistError(field, _l("At most %(n)s characters.", n=LABEL_MAX))
    return label_en, label_zh


def _find(items: list[dict], code: str) -> int:
    for index, item in enumerate(items):
        if item["code"] == code:
            return index
    raise ChecklistError(None, _l("The current checklist has no item “%(code)s”.", code=code))


def add_item(code: str, label_en: str, label_zh: str, kind: str, scope: str, actor: User,
             expected_version: int | None = None) -> ChecklistTemplate:
    """A new item, last in its part of the checklist; saved as a new version."""
    template = active_checklist()
    _check_expected(template, expected_version)
    code = (code or "").strip()
    if not code or not CODE_RE.match(code) or len(code) > CODE_MAX:
        raise ChecklistError("code", _l("Use lowercase letters, digits and _ only (at most %(n)s).", n=CODE_MAX))
    items = _as_dicts(template)
    existing = next((i for i in items if i["code"] == code), None)
    if existing is not None:
        raise ChecklistError("code", _l("The code “%(code)s” is already used by “%(label)s”.",
                                        code=code, label=existing["label_en"]))
    label_en, label_zh = _check_labels(label_en, label_zh)
    if kind not in ITEM_KINDS:
        raise ChecklistError("kind", _l("Choose how the item is answered."))
    if scope not in SCOPES:
        raise ChecklistError("scope", _l("Choose where the item applies."))
    new = {"code": code, "label_en": label_en, "label_zh": label_zh, "kind": kind, "scope": scope}
    # Last of its scope: per-line items all come before the consignment items.
    index = max((n + 1 for n, i in enumerate(items) if i["scope"] == scope),
                default=0 if scope == PER_LINE else len(items))
    items.insert(index, new)
    return inspection_ops.new_template_version(items, actor, reason=f"added {code}: {label_en} / {label_zh}")


def rename_item(code: str, label_en: str, label_zh: str, actor: User,
                expected_version: int | None = None) -> ChecklistTemplate | None:
    """New wording for an item (its code and kind stay: statistics count by code).
    None when the wording is unchanged (no new version for nothing)."""
    template = active_checklist()
    _check_expected(template, expected_version)
    items = _as_dicts(template)
    item = items[_find(items, code)]
    label_en, label_zh = _check_labels(label_en, label_zh)
    if (item["label_en"], item["label_zh"]) == (label_en, label_zh):
        return None
    before = f"{item['label_en']} / {item['label_zh']}"
    item["label_en"], item["label_zh"] = label_en, label_zh
    return inspection_ops.new_template_version(
        items, actor, reason=f"renamed {code}: {before} -> {label_en} / {label_zh}")


def remove_item(code: str, actor: User, expected_version: int | None = None) -> ChecklistTemplate:
    """Leave an item out of the checklist from now on; the policy's four checks stay."""
    template = active_checklist()
    _check_expected(template, expected_version)
    items = _as_dicts(template)
    index = _find(items, code)
    if code in POLICY_CODES:
        raise ChecklistError(None, _l("“%(label)s” cannot be removed: policy 4.3 and 4.4 require model, "
                                      "quantity, markings/labels and packaging appearance to be inspected. "
                                      "You can change its wording.", label=items[index]["label_en"]))
    if len(items) == 1:
        raise ChecklistError(None, _l("A checklist needs at least one item."))
    removed = items.pop(index)
    return inspection_ops.new_template_version(
        items, actor, reason=f"removed {code}: {removed['label_en']} / {removed['label_zh']}")


def move_item(code: str, direction: str, actor: User, expected_version: int | None = None) -> ChecklistTemplate:
    """Move an item one place up or down within its part (per line / whole consignment)."""
    template = active_checklist()
    _check_expected(template, expected_version)
    if direction not in MOVES:
        raise ChecklistError(None, _l("Choose up or down."))
    items = _as_dicts(template)
    index = _find(items, code)
    scope = items[index]["scope"]
    step = -1 if direction == "up" else 1
    other = index + step
    if not (0 <= other < len(items)) or items[other]["scope"] != scope:
        raise ChecklistError(None, _l("“%(label)s” is already the first item of its part.", label=items[index]["label_en"])
                             if direction == "up" else
                             _l("“%(label)s” is already the last item of its part.", label=items[index]["label_en"]))
    items[index], items[other] = items[other], items[index]
    return inspection_ops.new_template_version(items, actor, reason=f"moved {code} {direction}")


# --- failure statistics ------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    key: str  # item code or product model
    label: str
    count: int


def local_day_start(day: date) -> datetime:
    """The start of a calendar day in the service centre's time zone."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))


def item_labels(codes: list[str], language: str, name: str = inspection_ops.TEMPLATE_NAME) -> dict[str, str]:
    """Each code's wording in `language`, from the newest version that has an item with that code."""
    if not codes:
        return {}
    rows = db.session.execute(
        select(ChecklistItem.code, ChecklistItem.label_en, ChecklistItem.label_zh)
        .join(ChecklistTemplate).where(ChecklistTemplate.name == name, ChecklistItem.code.in_(codes))
        .order_by(ChecklistTemplate.version.desc())
    ).all()
    labels: dict[str, str] = {}
    for code, label_en, label_zh in rows:
        labels.setdefault(code, label_zh if language == "zh" else label_en)
    return labels


def failure_statistics(language: str, date_from: date | None = None,
                       date_to: date | None = None) -> dict[str, list[Count]]:
    """Failed items of submitted inspections per checklist item and per product model, for
    inspections submitted between two local calendar days (inclusive, either may be open)."""
    counts = inspection_ops.failure_counts(
        since=local_day_start(date_from) if date_from else None,
        until=local_day_start(date_to + timedelta(days=1)) if date_to else None,
    )
    labels = item_labels([code for code, _ in counts["per_item"]], language)
    return {
        "per_item": [Count(code, labels.get(code, code), n) for code, n in counts["per_item"]],
        "per_model": [Count(model, model, n) for model, n in counts["per_model"]],
    }

