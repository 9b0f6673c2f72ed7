"""The app starts, the database is built by the migrations, and each role reaches its start page."""
import pytest


@pytest.mark.parametrize("role, start", [
    ("technician", "/my-jobs"), ("dispatcher", "/dispatch/queue"),
    ("supervisor", "/dashboard"), ("reviewer", "/jobs"),
])
def test_each_role_lands_on_its_start_page(login, role, start):
    client = login(role)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(start)
    assert client.get(start).status_code == 200


def test_health_check_answers(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
