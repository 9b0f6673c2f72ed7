"""Fault taxonomy operations (policy 2.3). Functions flush; the route commits once.

Categories are never deleted: diagnoses point at them for good. A deactivated category is no
longer offered for new diagnoses, and old records keep showing it.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...models import FaultCategory, User
from ...services.audit import record_event

CODE_RE = re.compile(r"^[a-z0-9_]+$")
CODE_MAX = 40
NAME_MAX = 120


class CategoryError(Exception):
    """A change refused; `field` names the form field the message belongs beside."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field = field
        self.message = message


def groups_with_faults() -> list[FaultCategory]:
    """Every group (active or not) in order; their faults come with them."""
    return list(db.session.scalars(
        select(FaultCategory).where(FaultCategory.parent_id.is_(None))
        .options(selectinload(FaultCategory.children))
        .order_by(FaultCategory.position, FaultCategory.id)
    ))


def active_fault_choices(language: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """For the diagnosis form: active groups with their active faults, in the reader's language.

    [(group name, [(fault id, fault name), ...]), ...]; a group with no active fault is left out.
    """
    choices = []
    for group in groups_with_faults():
        if not group.active:
            continue
        faults = [(c.id, c.name(language)) for c in group.children if c.active]
        if faults:
            choices.append((group.name(language), faults))
    return choices


def _check_names(name_en: str, name_zh: str) -> tuple[str, str]:
    name_en, name_zh = (name_en or "").strip(), (name_zh or "").strip()
    if not name_en:
        raise CategoryError("name_en", _l("Enter the English name."))
    if not name_zh:
        raise CategoryError("name_zh", _l("Enter the Chinese name."))
    if len(name_en) > NAME_MAX or len(name_zh) > NAME_MAX:
        raise CategoryError("name_en" if len(name_en) > NAME_MAX else "name_zh",
                            _l("At most %(n)s characters.", n=NAME_MAX))
    return name_en, name_zh


def create_category(code: str, name_en: str, name_zh: str, parent: FaultCategory | None,
                    actor: User) -> FaultCategory:
    """A new group (no parent) or a new fault under a group, placed last."""
    code = (code or "").strip()
    if not CODE_RE.match(code) or len(code) > CODE_MAX:
        raise CategoryError("code", _l("Use lowercase letters, digits and _ only (at most %(n)s).", n=CODE_MAX))
    existing = db.session.scalar(select(FaultCategory).where(FaultCategory.code == code))
    if existing is not None:
        raise CategoryError("code", _l("The code “%(code)s” is already used by “%(name)s”.",
                                       code=code, name=existing.name_en))
    if parent is not None and parent.parent_id is not None:
        raise CategoryError("parent_id", _l("Faults go under a group, not under another fault."))
    name_en, name_zh = _check_names(name_en, name_zh)
    last = db.session.scalar(
        select(func.max(FaultCategory.position)).where(
            FaultCategory.parent_id == parent.id if parent else FaultCategory.parent_id.is_(None)
        )
    )
    category = FaultCategory(code=code, name_en=name_en, name_zh=name_zh, active=True,
                             position=(last + 1) if last is not None else 0, parent=parent)
    db.session.add(category)
    db.session.flush()
    record_event("fault_category", category.id, "created", actor, reason=f"{code}: {name_en} / {name_zh}")
    return category


def rename_category(category: FaultCategory, name_en: str, name_zh: str, actor: User) -> FaultCategory:
    """New names; the code stays (it is what exports and statistics rely on)."""
    name_en, name_zh = _check_names(name_en, name_zh)
    before = f"{category.name_en} / {category.name_zh}"
    category.name_en, category.name_zh = name_en, name_zh
    db.session.flush()
    record_event("fault_category", category.id, "renamed", actor,
                 reason=f"{before} -> {name_en} / {name_zh}")
    return category


def set_category_active(category: FaultCategory, active: bool, actor: User) -> FaultCategory:
    """Offer the category in new diagnoses again, or stop offering it (old records keep it)."""
    if category.active != active:
        category.active = active
        db.session.flush()
        record_event("fault_category", category.id, "activated" if active else "deactivated", actor)
    return category
