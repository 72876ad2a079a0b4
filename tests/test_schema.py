"""The OpenAPI document tells the truth: list envelopes and their parameters, real response shapes,
nullable fields, and every error an operation can answer, so a generated client works."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/datasets",
    "/api/v1/datasets/{dataset_id}/audio",
    "/api/v1/datasets/{dataset_id}/annotation-sets",
    "/api/v1/datasets/{dataset_id}/annotation-sets/{set_id}/annotations",
    "/api/v1/training-jobs",
    "/api/v1/models",
    "/api/v1/inference-jobs",
    "/api/v1/inference-jobs/{job_id}/files",
]


@pytest.fixture
def schema(api) -> dict:
    response = api.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def response_schema(schema: dict, path: str, method: str, code: str = "200") -> dict:
    content = schema["paths"][path][method]["responses"][code]["content"]
    return resolve(schema, content["application/json"]["schema"])


@pytest.mark.parametrize("path", LISTS)
def test_every_list_is_documented_with_the_envelope_and_its_page_parameters(schema, path):
    body = response_schema(schema, path, "get")
    assert body["type"] == "object"
    assert set(body["required"]) == {"items", "total", "page", "page_size"}
    assert body["properties"]["items"]["type"] == "array"
    parameters = {p["name"]: p for p in schema["paths"][path]["get"].get("parameters", [])}
    assert parameters["page"]["schema"]["minimum"] == 1
    assert parameters["page_size"]["schema"]["maximum"] == 500


def test_upload_url_responses_have_their_own_shape_not_the_requests(schema):
    audio = response_schema(schema, "/api/v1/datasets/{dataset_id}/audio/upload-url", "post")
    assert set(audio["required"]) == {"upload_url", "fields", "key", "expires_in", "audio_id"}
    path = "/api/v1/inference-jobs/{job_id}/files/upload-url"
    inference = response_schema(schema, path, "post")
    assert set(inference["required"]) == {"file_id", "upload_url", "upload_fields", "s3_key", "expires_in"}


def test_fields_that_can_be_null_are_nullable(schema):
    annotation_set = resolve(schema, {"$ref": "#/components/schemas/AnnotationSet"})
    assert annotation_set["properties"]["copied_from"].get("nullable") is True


def test_every_operation_documents_its_errors_in_the_contracts_shapes(schema):
    validation = schema["components"]["schemas"]["ValidationError"]
    assert validation["properties"]["detail"]["items"]["required"] == ["loc", "msg", "type"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path != "/api/v1/health":
                assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= codes, (method, path)
            if method in ("post", "patch", "delete"):
                assert "409" in codes, (method, path)
    audio = "/api/v1/datasets/{dataset_id}/audio/{audio_id}"
    assert {"409", "416"} <= set(schema["paths"][f"{audio}/content"]["get"]["responses"])
    assert "409" in schema["paths"][f"{audio}/peaks"]["get"]["responses"]


def test_a_sets_detail_documents_its_bounded_annotations(schema):
    path = "/api/v1/datasets/{dataset_id}/annotation-sets/{set_id}"
    detail = response_schema(schema, path, "get")
    assert {"annotations", "annotations_truncated"} <= set(detail["properties"])
    names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
    assert "annotations_limit" in names
