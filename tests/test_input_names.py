"""Client-given input names: a file's name in the job's results by input name (seed 003)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.models import InferenceFile
from tests import factories
from training import builtin

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(api):
    model, _verdict = builtin.install()  # the base detector, then the verdict model
    response = api.post("/api/v1/inference-jobs", {"model_id": str(model.id)}, format="json")
    assert response.status_code == 201
    return response.json()


def ticket(api, job, **body):
    body = {"filename": "take.wav", "file_size_bytes": 1000, **body}
    return api.post(f"/api/v1/inference-jobs/{job['id']}/files/upload-url", body, format="json")


def clip(name: str = "take.wav") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, factories.wav_bytes(seed=2), "audio/wav")


def test_the_results_are_keyed_by_the_input_name_the_client_gave(api, job):
    named = ticket(api, job, input_name="order-42/line-1".replace("/", ":"))
    assert named.status_code == 200, named.json()
    plain = ticket(api, job)
    results = api.get(f"/api/v1/inference-jobs/{job['id']}/results").json()
    assert set(results["results"]) == {"order-42:line-1", "take.wav"}
    one = api.get(f"/api/v1/inference-jobs/{job['id']}/results/order-42:line-1").json()
    assert one["order-42:line-1"]["fileId"] == named.json()["file_id"]
    assert results["results"]["take.wav"]["fileId"] == plain.json()["file_id"]


def test_a_taken_input_name_is_409_and_creates_nothing(api, job):
    assert ticket(api, job, input_name="a").status_code == 200
    again = ticket(api, job, input_name="a")
    assert again.status_code == 409 and "already names an input" in again.json()["detail"]
    # A file name already in use is taken too: the name never moves to another file.
    assert ticket(api, job, filename="b.wav").status_code == 200
    assert ticket(api, job, input_name="b.wav").status_code == 409
    assert InferenceFile.objects.count() == 2


def test_a_file_named_like_a_chosen_input_name_gets_a_numbered_one(api, job):
    ticket(api, job, input_name="take.wav")
    ticket(api, job, filename="take.wav")
    names = set(api.get(f"/api/v1/inference-jobs/{job['id']}/results").json()["results"])
    assert names == {"take.wav", "take.wav (2)"}


@pytest.mark.parametrize("bad", ["", "a/b", "tab\there", "x" * 501])
def test_an_unusable_input_name_is_422(api, job, bad):
    response = ticket(api, job, input_name=bad)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "input_name"]
    assert not InferenceFile.objects.exists()


def test_a_multipart_upload_takes_one_input_name_per_file_in_order(api, job):
    url = f"/api/v1/inference-jobs/{job['id']}/files"
    response = api.post(url, {"file": [clip("1.wav"), clip("2.wav")], "input_name": ["first", "second"]})
    assert response.status_code == 201, response.json()
    by_name = api.get(f"/api/v1/inference-jobs/{job['id']}/results").json()["results"]
    ids = [item["id"] for item in response.json()["items"]]
    assert [by_name["first"]["fileId"], by_name["second"]["fileId"]] == ids


@pytest.mark.parametrize(
    ("names", "message"),
    [(["only-one"], "1 input_name field(s) for 2 file(s)"), (["same", "same"], "an input name of its own")],
)
def test_multipart_input_names_that_do_not_fit_are_422_and_save_nothing(api, job, names, message):
    url = f"/api/v1/inference-jobs/{job['id']}/files"
    response = api.post(url, {"file": [clip("1.wav"), clip("2.wav")], "input_name": names})
    assert response.status_code == 422 and message in response.json()["detail"][0]["msg"]
    assert not InferenceFile.objects.exists()
