"""Shared claim fixtures: a diagnosed job with its technician, photos of the job (real SeaweedFS)."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from fieldservice.extensions import db
from fieldservice.models import Diagnosis, Photo
from fieldservice.services.photos import ingest_photo


@pytest.fixture
def diagnosed(s3_app, make):
    """A resolved job with its technician's submitted diagnosis."""
    technician = make.user("technician")
    job = make.job("resolved", technician=technician)
    diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=technician.id, symptom="Cracked",
                          root_cause="Roller cracked in transport", actions_taken="Photographed", outcome="fixed",
                          contact_name="Zhang", submitted_dt=job.created_dt)
    db.session.add(diagnosis)
    db.session.commit()
    return technician, job, diagnosis


def jpeg(colour=(150, 40, 30)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, "JPEG")
    out.seek(0)
    return out


def photo_of(job, who, colour=(150, 40, 30)) -> Photo:
    photo = ingest_photo(jpeg(colour), uploader=who, job=job, caption="Cracked roller")
    db.session.commit()
    return photo
