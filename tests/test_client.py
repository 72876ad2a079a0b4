"""The Python client (clients/python) on its own: standalone, retries as documented against real
HTTP servers, the release gate's rules, and errors that carry the contract's detail."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib

import pytest
from relay_client import NotFound, Relay, ServerError, ValidationFailed
from relay_client.gate import Rule, judge, parse_rules
from relay_client.multipart import FilePart, MultipartBody

from relayweb.auth import TeamRateThrottle
from tests import factories
from tests.conftest import ROOT
from tests.local_http import ScriptedServer

CLIENT = ROOT / "clients" / "python"


def test_the_client_installs_with_two_light_dependencies_and_loads_no_server_code():
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert sorted(d.split(">")[0] for d in project["dependencies"]) == ["click", "requests"]
    code = (
        "import sys, relay_client, relay_client.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'django', 'numpy', 'relayml'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CLIENT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.fixture
def scripted():
    servers = []

    def start(*steps):
        servers.append(ScriptedServer(*steps))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def client(url, waits):
    return Relay(url, "key", retries=3, backoff=0.01, sleep=waits.append)


OK = (200, {}, b'{"status": "ok"}')


def test_a_read_survives_a_dropped_connection_and_a_503_honouring_retry_after(scripted):
    server = scripted("drop", (503, {"Retry-After": "2"}, b'{"detail": "restarting"}'), OK)
    waits = []
    assert client(server.url, waits).health() == {"status": "ok"}
    assert len(server.received) == 3
    assert waits[1] == 2.0  # the server's Retry-After, not the client's own back-off


def test_a_rate_limited_create_is_sent_again_but_one_that_failed_with_500_is_not(scripted):
    limited = scripted((429, {"Retry-After": "1"}, b'{"detail": "slow down"}'), (201, {}, b'{"id": "d1"}'))
    waits = []
    assert client(limited.url, waits).datasets.create("a", ["glitch"]) == {"id": "d1"}
    assert [r.method for r in limited.received] == ["POST", "POST"] and waits == [1.0]
    broken = scripted((500, {}, b'{"detail": "Internal server error"}'))
    with pytest.raises(ServerError) as caught:
        client(broken.url, []).datasets.create("a", ["glitch"])
    assert len(broken.received) == 1  # it may have been created: sending it again could make two
    assert caught.value.status == 500 and caught.value.detail == "Internal server error"


def test_a_streamed_form_is_exactly_as_long_as_it_says_and_reports_progress(tmp_path, scripted):
    audio = tmp_path / "take 1.wav"
    audio.write_bytes(factories.wav_bytes(seed=3))
    seen = []
    form = MultipartBody(
        [("key", "a/b"), ("policy", "x")], [FilePart("file", audio)], lambda s, t: seen.append(s)
    )
    body = b"".join(form)
    assert len(body) == len(form) and seen[-1] == len(form)
    assert b'filename="take 1.wav"' in body and audio.read_bytes() in body


def test_rules_read_as_written_and_a_bad_one_is_named():
    assert parse_rules("glitch>=0.8, clipping>0.9,omission") == [
        Rule("glitch", 0.8), Rule("clipping", 0.9, strict=True), Rule("omission")
    ]  # fmt: skip
    for bad in ("glitch=>0.8", "glitch>=1.5", "Glitch"):
        with pytest.raises(ValueError, match="rule"):
            parse_rules(bad)


def test_the_gate_fails_a_file_for_each_reason_and_passes_a_clean_one():
    detections = [
        {"artifact_type": "glitch", "start_ms": 1000, "end_ms": 1100, "confidence": 0.7},
        {"artifact_type": "omission", "start_ms": 2000, "end_ms": 2400, "confidence": 0.9,
         "details": {"expected": "fifteen", "heard": ""}},
    ]  # fmt: skip
    done = {"status": "completed", "detections": detections, "transcript": {"wer": 0.12}}
    assert judge("a.wav", done, parse_rules("glitch>=0.8")).passed
    strict = judge("a.wav", done, parse_rules("glitch>=0.5,omission"), max_wer=0.05, has_script=True)
    assert not strict.passed and len(strict.reasons) == 3
    assert "glitch 0.70 at 1.00–1.10 s" in strict.reasons[0] and "'fifteen'" in strict.reasons[1]
    assert strict.reasons[2] == "WER 0.120 > 0.05"
    failed = judge("b.wav", {"status": "failed", "error_message": "not an audio file"}, [])
    assert failed.reasons == ["not processed: not an audio file"]
    assert judge("c.wav", {"status": "completed", "detections": []}, []).passed


@pytest.mark.django_db(transaction=True)
def test_errors_carry_the_contracts_detail_and_the_rate_limit_is_waited_out(live_server, team, monkeypatch):
    relay = Relay(live_server.url, factories.make_key(team), backoff=0.01)
    with pytest.raises(NotFound) as missing:
        relay.datasets.get("00000000-0000-0000-0000-000000000000")
    assert missing.value.detail == "Dataset not found"
    with pytest.raises(ValidationFailed) as invalid:
        relay.datasets.create("", ["Not A Type"])
    assert {tuple(e["loc"])[:2] for e in invalid.value.detail} >= {("body", "name")}
    # 5 requests a second for this team: a burst of 12 is slowed down by Retry-After, none is lost.
    monkeypatch.setattr(TeamRateThrottle, "THROTTLE_RATES", {"team": "5/s"})
    waits = []
    relay = Relay(live_server.url, factories.make_key(team), sleep=lambda s: waits.append(s) or time.sleep(s))
    created = [relay.datasets.create(f"set {i}", ["glitch"]) for i in range(12)]
    assert len({d["id"] for d in created}) == 12 and waits and all(w >= 1 for w in waits)
    assert json.loads(json.dumps(created[0]))["artifact_types"][0]["name"] == "glitch"


@pytest.mark.django_db(transaction=True)
def test_webhooks_are_managed_through_the_client(live_server, team, settings):
    relay = Relay(live_server.url, factories.make_key(team))
    with pytest.raises(ValidationFailed) as refused:
        relay.webhooks.create("http://10.0.0.1/hook", ["audio.ready"])
    assert refused.value.detail[0]["loc"] == ["body", "url"] and "private" in str(refused.value)
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True
    hook = relay.webhooks.create("http://127.0.0.1:9/hook", ["audio.ready"])
    assert hook["secret"].startswith("whsec_")
    assert [h["id"] for h in relay.webhooks.list()] == [hook["id"]]
    assert relay.webhooks.update(hook["id"], active=False)["active"] is False
    assert list(relay.webhooks.deliveries(hook["id"])) == []
