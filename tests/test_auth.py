"""API keys, roles and team isolation."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from relayweb.models import ApiKey, Membership, Role, Team, hash_key
from tests import factories
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def test_a_request_without_a_key_is_401_with_a_detail():
    response = api_client(None).get("/api/v1/datasets")
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing API key: send it in the X-API-Key header"}
    assert response["WWW-Authenticate"] == "X-API-Key"


def test_an_unknown_key_is_401():
    response = api_client("rly_not-a-real-key").get("/api/v1/datasets")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key"}


def test_a_revoked_key_stops_working_at_once(team):
    key, raw = ApiKey.issue(team, Role.ADMIN)
    assert api_client(raw).get("/api/v1/datasets").status_code == 200
    key.revoke()
    assert api_client(raw).get("/api/v1/datasets").status_code == 401


def test_keys_are_stored_only_as_a_hash_and_record_last_use(team):
    key, raw = ApiKey.issue(team, Role.VIEWER)
    assert raw.startswith("rly_") and len(raw) > 40
    assert key.key_hash == hash_key(raw) and raw not in key.key_hash
    assert key.last_used_at is None
    api_client(raw).get("/api/v1/datasets")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_health_needs_no_key_and_reports_database_and_queue():
    response = api_client(None).get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["queue"]["broker"] == "orm" and body["queue"]["queued_tasks"] == 0
    assert body["queue"]["queues"] == {
        name: {"queued_tasks": 0, "running_tasks": 0, "oldest_queued_age_s": None}
        for name in ("ingest", "training", "inference")
    }
    from django_q.tasks import async_task

    async_task("math.floor", 1.5, cluster="training")  # waiting: no training worker here
    queues = api_client(None).get("/api/v1/health").json()["queue"]["queues"]
    assert queues["training"]["queued_tasks"] == 1 and queues["training"]["oldest_queued_age_s"] >= 0
    assert queues["inference"]["queued_tasks"] == 0


ROLE_CASES = [
    # (role, method, path suffix, body, expected status)
    (Role.VIEWER, "get", "", None, 200),
    (Role.VIEWER, "post", "/annotation-sets", None, 403),
    (Role.VIEWER, "patch", "", {"name": "x"}, 403),
    (Role.ANNOTATOR, "post", "/annotation-sets", None, 201),
    (Role.ANNOTATOR, "patch", "", {"name": "x"}, 403),
    (Role.ANNOTATOR, "delete", "", None, 403),
    (Role.ADMIN, "patch", "", {"name": "x"}, 200),
    (Role.OWNER, "delete", "", None, 204),
]


@pytest.mark.parametrize(("role", "method", "suffix", "body", "expected"), ROLE_CASES)
def test_roles_decide_what_a_key_may_do(client_for, dataset, role, method, suffix, body, expected):
    client = client_for(role)
    response = getattr(client, method)(f"/api/v1/datasets/{dataset.id}{suffix}", body, format="json")
    assert response.status_code == expected, response.content
    if expected == 403:
        assert f"Your role ({role})" in response.json()["detail"]


def test_a_viewer_cannot_create_a_dataset(client_for):
    response = client_for(Role.VIEWER).post(
        "/api/v1/datasets", {"name": "x", "artifact_types": [{"name": "a"}]}, format="json"
    )
    assert response.status_code == 403


def test_another_teams_objects_are_404_everywhere(client_for, other_team, ready_audio):
    dataset = ready_audio.dataset
    outsider = client_for(Role.OWNER, for_team=other_team)
    paths = [
        f"/api/v1/datasets/{dataset.id}",
        f"/api/v1/datasets/{dataset.id}/audio",
        f"/api/v1/datasets/{dataset.id}/audio/{ready_audio.id}",
        f"/api/v1/datasets/{dataset.id}/audio/{ready_audio.id}/content",
        f"/api/v1/datasets/{dataset.id}/audio/{ready_audio.id}/peaks",
        f"/api/v1/datasets/{dataset.id}/annotation-sets",
    ]
    for path in paths:
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"].endswith("not found")
    assert outsider.delete(f"/api/v1/datasets/{dataset.id}").status_code == 404
    assert outsider.get("/api/v1/datasets").json()["total"] == 0
    dataset.refresh_from_db()  # still there


def test_create_api_key_makes_team_and_owner_and_prints_only_the_key(capsys):
    call_command("create_api_key", "--team", "Newco", "--user", "ada", "--role", "annotator")
    raw = capsys.readouterr().out.strip()
    assert "\n" not in raw and raw.startswith("rly_")
    key = ApiKey.find(raw)
    assert key.team.name == "Newco" and key.role == Role.ANNOTATOR
    assert Membership.objects.get(team__name="Newco", user__username="ada").role == Role.OWNER
    call_command("create_api_key", "--team", "Newco")
    assert Team.objects.filter(name="Newco").count() == 1
    assert api_client(raw).get("/api/v1/datasets").status_code == 200


def test_browser_session_uses_the_same_endpoints_scoped_to_the_current_team(client, team, other_team):
    user = factories.make_user(team, "sam", Role.VIEWER)
    Membership.objects.create(team=other_team, user=user, role=Role.ADMIN)
    factories.make_dataset(team, "Acme set")
    factories.make_dataset(other_team, "Globex set")
    client.force_login(user)
    client.post("/teams/switch/", {"team_id": str(team.id), "next": "/"})
    names = [d["name"] for d in client.get("/api/v1/datasets").json()["items"]]
    assert names == ["Acme set"]
    client.post("/teams/switch/", {"team_id": str(other_team.id), "next": "/"})
    names = [d["name"] for d in client.get("/api/v1/datasets").json()["items"]]
    assert names == ["Globex set"]


def test_session_writes_need_the_csrf_token(team):
    from django.test import Client

    user = factories.make_user(team, "kim", Role.ADMIN)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(
        "/api/v1/datasets",
        {"name": "x", "artifact_types": [{"name": "a"}]},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_team_over_its_rate_limit_gets_429(api, monkeypatch):
    from django.core.cache import cache

    from relayweb.auth import TeamRateThrottle

    cache.clear()
    monkeypatch.setattr(TeamRateThrottle, "rate", "2/min", raising=False)
    codes = [api.get("/api/v1/datasets").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert "throttled" in api.get("/api/v1/datasets").json()["detail"]
    cache.clear()
