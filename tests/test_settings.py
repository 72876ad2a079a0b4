"""Settings come from the environment strictly, and no secret key is ever a public default."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from relayweb.env import ConfigError, env_bool, env_int, stored_secret_key
from relayweb.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
# What decides the mode; each test states the ones it wants.
MODE_VARIABLES = {"PYTEST_VERSION", "RELAY_EMBEDDED", "DEBUG", "SECRET_KEY"}


def start(data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Start Relay's settings the way a deployment does (manage.py) and print the key it got."""
    base = {k: v for k, v in os.environ.items() if k not in MODE_VARIABLES}
    show_key = "from django.conf import settings; print(settings.SECRET_KEY)"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", show_key],
        cwd=ROOT,
        env={**base, "RELAY_DATA_DIR": str(data_dir), "DATABASE_URL": "sqlite:///:memory:", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_a_secret_key_refuses_to_start_and_says_why(tmp_path):
    result = start(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_gunicorn_without_a_secret_key_stops_with_the_reason_instead_of_booting_workers(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in MODE_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "relayweb/gunicorn_conf.py"],
        cwd=ROOT,
        env={**base, "RELAY_DATA_DIR": str(tmp_path), "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Relay cannot start: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr and "Booting worker" not in result.stderr


def test_a_given_secret_key_is_used_as_is(tmp_path):
    result = start(tmp_path, SECRET_KEY="s" * 60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "s" * 60


@pytest.mark.parametrize("mode", [{"RELAY_EMBEDDED": "1"}, {"DEBUG": "true"}])
def test_development_generates_a_private_key_once_and_keeps_it(tmp_path, mode):
    first = start(tmp_path, **mode)
    second = start(tmp_path, **mode)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 50 and key == second.stdout.strip().splitlines()[-1]
    assert (tmp_path / "secret_key").read_text() == key
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_a_key_generated_by_make_run_is_used_by_manage_py_commands_beside_it(tmp_path):
    generated = start(tmp_path, RELAY_EMBEDDED="true").stdout.strip().splitlines()[-1]
    beside = start(tmp_path)
    assert beside.returncode == 0, beside.stderr
    assert beside.stdout.strip().splitlines()[-1] == generated


def test_processes_starting_at_once_agree_on_one_generated_key(tmp_path):
    path = tmp_path / "data" / "secret_key"
    with ThreadPoolExecutor(16) as pool:
        keys = set(pool.map(lambda _: stored_secret_key(path), range(64)))
    assert keys == {path.read_text()}
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary files left


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DEBUG", "ture"), ("RELAY_TASKS_SYNC", "2"), ("SESSION_COOKIE_SECURE", "enabled")],
)
def test_a_boolean_setting_that_is_not_a_boolean_word_refuses_to_start(tmp_path, variable, value):
    result = start(tmp_path, RELAY_EMBEDDED="1", **{variable: value})
    assert result.returncode != 0
    assert f"{variable}={value!r} is not a boolean" in result.stderr and "Traceback" not in result.stderr


def test_an_integer_setting_that_is_not_an_integer_refuses_to_start(tmp_path):
    result = start(tmp_path, RELAY_EMBEDDED="1", RELAY_INGEST_WORKERS="two")
    assert result.returncode != 0
    assert "RELAY_INGEST_WORKERS='two' is not an integer" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("On", True), ("0", False), ("False", False)]
    + [("NO", False), ("off", False), ("", True)],
)
def test_boolean_words_are_read_in_any_case(monkeypatch, value, expected):
    monkeypatch.setenv("RELAY_TEST_FLAG", value)
    assert env_bool("RELAY_TEST_FLAG", True) is expected


def test_integers_below_their_minimum_are_refused(monkeypatch):
    monkeypatch.setenv("RELAY_TEST_NUMBER", "0")
    with pytest.raises(ConfigError, match="RELAY_TEST_NUMBER=0 is too small"):
        env_int("RELAY_TEST_NUMBER", 5, minimum=1)
    monkeypatch.setenv("RELAY_TEST_NUMBER", " 12 ")
    assert env_int("RELAY_TEST_NUMBER", 5, minimum=1) == 12
