"""Fixtures for inspections: the policy's default checklist and a delivery job on site."""
import pytest

from fieldservice.blueprints.inspections import operations as ops

DEFAULT_ITEMS = [
    {"scope": "line", "kind": "check", "code": "model_matches", "label_en": "Model matches the order", "label_zh": "型号与订单一致"},
    {"scope": "line", "kind": "quantity", "code": "quantity", "label_en": "Quantity (expected vs counted)", "label_zh": "数量（应到与实点）"},
    {"scope": "line", "kind": "check", "code": "markings_labels", "label_en": "Markings and labels present and correct", "label_zh": "标识齐全且正确"},
    {"scope": "line", "kind": "check", "code": "packaging_appearance", "label_en": "Packaging appearance intact", "label_zh": "包装外观完好"},
    {"scope": "shipment", "kind": "check", "code": "consignment_packaging", "label_en": "Packaging of the whole consignment intact", "label_zh": "整批货物包装完好"},
    {"scope": "shipment", "kind": "check", "code": "delivery_note", "label_en": "Delivery note present and matching", "label_zh": "送货单齐全且相符"},
]


@pytest.fixture
def checklist(make):
    """The default checklist of policy 4.3/4.4 (tests start from empty tables)."""
    from fieldservice.extensions import db

    template = ops.new_template_version(DEFAULT_ITEMS, make.user("supervisor"))
    db.session.commit()
    return template


@pytest.fixture
def delivery_job(make, checklist):
    """A delivery-inspection job with its technician on site."""
    technician = make.user("technician")
    return make.job("on_site", technician=technician, request_type="delivery_inspection")
