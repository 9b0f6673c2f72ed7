"""Paging for list pages that never counts every matching row (issue 7).

Flask-SQLAlchemy's ``db.paginate`` runs ``count(*)`` over the whole filtered list; on a million
jobs that count, not the 25 rows shown, is most of a list page's time (bench/RESULTS.md). Here
the count stops after ``count_cap + 1`` rows: beyond the cap the page says "1,000+" and the pager
still offers Next, because whether a next page exists is learnt by fetching one row more than a
page holds. Each list request still runs two statements (its rows, the bounded count).

The object returned answers what the templates use of Flask-SQLAlchemy's Pagination
(items, page, per_page, pages, total, has_next, has_prev, next_num, prev_num, iter_pages) plus
``total_is_capped`` and ``total_text``.
"""
from __future__ import annotations

from collections.abc import Iterator
from math import ceil
from typing import Any

from flask import current_app
from flask_babel import format_number, gettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import lazyload

from .extensions import db

DEFAULT_COUNT_CAP = 1000
MAX_PAGE = 10**9


class CappedPagination:
    """One page of a list whose total is counted only up to a cap."""

    def __init__(self, items: list[Any], page: int, per_page: int, total: int,
                 total_is_capped: bool, has_next: bool):
        self.items = items
        self.page = page
        self.per_page = per_page
        # When capped, `total` is the cap: "at least this many" (shown as "1,000+").
        self.total = total
        self.total_is_capped = total_is_capped
        self.has_next = has_next
        self.has_prev = page > 1
        self.next_num = page + 1 if has_next else None
        self.prev_num = page - 1 if self.has_prev else None

    @property
    def pages(self) -> int:
        """The number of pages; when capped, the pages known to exist (shown as "40+")."""
        counted = ceil(self.total / self.per_page) if self.total else 0
        if self.total_is_capped and self.items:
            # Paging on past the cap: this page exists, and the next one if has_next.
            return max(counted, self.page + (1 if self.has_next else 0))
        return counted

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items) if self.items else 0

    @property
    def total_text(self) -> str:
        """The total for a count text: "1,000+" when capped (translated), else the number."""
        if self.total_is_capped:
            return gettext("%(num)s+", num=format_number(self.total))
        return str(self.total)

    def iter_pages(self, *, left_edge: int = 2, left_current: int = 2, right_current: int = 4,
                   right_edge: int = 2) -> Iterator[int | None]:
        """Page numbers for a numbered pager, None for a gap (as Flask-SQLAlchemy's)."""
        pages_end = self.pages + 1
        if pages_end == 1:
            return
        left_end = min(1 + left_edge, pages_end)
        yield from range(1, left_end)
        if left_end == pages_end:
            return
        mid_start = max(left_end, self.page - left_current)
        mid_end = min(self.page + right_current + 1, pages_end)
        if mid_start - left_end > 0:
            yield None
        yield from range(mid_start, mid_end)
        if mid_end == pages_end:
            return
        right_start = max(mid_end, pages_end - right_edge)
        if right_start - mid_end > 0:
            yield None
        yield from range(right_start, pages_end)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


def paginate(stmt: Select, page: int, per_page: int, count_cap: int | None = None, *,
             count_in_order: bool = False) -> CappedPagination:
    """One page of the ORM select `stmt` (ordered), counting at most `count_cap` + 1 rows.

    `count_cap` defaults to the LIST_COUNT_CAP setting. A page number below 1 means page 1; a
    page past the last answers an empty page (as db.paginate(error_out=False) did), however big.
    Runs exactly two statements: the page's rows (one more than a page, to know whether a next
    page exists) and ``SELECT count(*) FROM (stmt without ORDER BY LIMIT cap+1)``.

    `count_in_order` keeps the ORDER BY in the count: it then reads the first cap+1 rows the
    way the page does (same total). For a list whose matches lie at its start but far along
    the join key's order, e.g. the ledger's recent period filtered by region: unordered,
    PostgreSQL assumes matches spread evenly and may merge-join along job ids (issue 7).
    """
    if count_cap is None:
        count_cap = current_app.config.get("LIST_COUNT_CAP", DEFAULT_COUNT_CAP)
    # Past MAX_PAGE the offset could overflow the database's integers (a 500): answer empty instead.
    page = min(max(1, int(page or 1)), MAX_PAGE)
    per_page = max(1, int(per_page))
    offset = (page - 1) * per_page

    rows = list(db.session.execute(stmt.limit(per_page + 1).offset(offset)).unique().scalars())
    has_next = len(rows) > per_page
    items = rows[:per_page]

    counted_rows = stmt.options(lazyload("*"))
    if not count_in_order:
        counted_rows = counted_rows.order_by(None)
    bounded = counted_rows.limit(count_cap + 1).subquery()
    counted = db.session.execute(select(func.count()).select_from(bounded)).scalar_one()

    if items and not has_next:
        # The last page: the exact total is known whatever the cap.
        total, capped = offset + len(items), False
    elif counted > count_cap:
        total, capped = count_cap, True
    else:
        total, capped = counted, False
    return CappedPagination(items, page, per_page, total, capped, has_next)
