"""Failed sign-ins are throttled per username and address; the form says how long to wait."""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.test import Client

from tests import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_earlier_failures():
    caches["shared"].clear()
    yield
    caches["shared"].clear()


@pytest.fixture
def ada(team):
    return factories.make_user(team, "ada")


def sign_in(password: str, username: str = "ada", address: str = "10.0.0.1", page: str = "/login/"):
    return Client(REMOTE_ADDR=address).post(page, {"username": username, "password": password})


def test_after_five_failures_the_form_says_to_wait_even_with_the_right_password(ada, settings):
    assert settings.RELAY_LOGIN_ATTEMPTS == 5
    for _ in range(5):
        response = sign_in("wrong")
        assert response.status_code == 200
        assert b"match. Please try again" in response.content
    response = sign_in(PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-ins for this username. Wait 15 minutes" in response.content
    assert int(response["Retry-After"]) > 800
    assert "_auth_user_id" not in response.wsgi_request.session


def test_other_users_and_other_addresses_are_not_held_back(ada, team):
    factories.make_user(team, "grace")
    for _ in range(5):
        sign_in("wrong")
    assert sign_in(PASSWORD, username="grace").status_code == 302
    assert sign_in(PASSWORD, address="10.0.0.2").status_code == 302


def test_a_successful_sign_in_clears_earlier_failures(ada):
    for _ in range(4):
        sign_in("wrong")
    assert sign_in(PASSWORD).status_code == 302
    for _ in range(4):
        sign_in("wrong")
    assert sign_in(PASSWORD).status_code == 302


def test_the_wait_ends_with_the_window(ada, settings):
    settings.RELAY_LOGIN_WINDOW_S = 3
    for _ in range(5):
        sign_in("wrong")
    throttled = sign_in(PASSWORD)
    assert throttled.status_code == 429
    time.sleep(int(throttled["Retry-After"]) + 0.1)
    assert sign_in(PASSWORD).status_code == 302


def test_failures_whose_window_has_passed_no_longer_count_while_their_cache_entry_lingers(ada, settings):
    from django.test import RequestFactory

    from relayweb.login import FailedSignIns

    request = RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.1")
    failures = FailedSignIns(request, "ada")
    # Five failures whose window ended half a second ago; the entry's rounded-up timeout keeps it.
    passed = time.time() - settings.RELAY_LOGIN_WINDOW_S - 0.5
    caches["shared"].set(failures.key, (5, passed), timeout=60)
    assert failures.seconds_to_wait() == 0
    assert sign_in(PASSWORD).status_code == 302


def test_the_admin_sign_in_page_is_throttled_too(team):
    admin = factories.make_user(team, "root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    for _ in range(5):
        assert sign_in("wrong", username="root", page="/admin/login/").status_code == 200
    refused = sign_in(PASSWORD, username="root", page="/admin/login/")
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session
    assert sign_in(PASSWORD, username="root", address="10.0.0.2", page="/admin/login/").status_code == 302
