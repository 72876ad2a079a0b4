"""Scripts (`expected_text`: what a TTS was asked to say) sent with a multipart upload, to a dataset
or an inference job: one `expected_text` field per file, in the
files' order, or a `manifest` part (a file or a field) naming the files: JSON `{"name": "text"}` or
`[{"filename": ..., "expected_text": ...}]`, or CSV with a header holding `filename` and
`expected_text` (or `text`). Every problem is a 422 naming the part; nothing is saved."""

from __future__ import annotations

import csv
import io
import json

from rest_framework import serializers

from relayweb.errors import Unprocessable

MAX_SCRIPT_CHARS = 100_000  # far past any one TTS request; keeps a row's size bounded
MAX_MANIFEST_BYTES = 10 * 1024 * 1024
NAME_KEYS = ("filename", "name", "file")
# The one-call upload endpoints' OpenAPI body: `file` (repeatable) and each file's script.
MULTIPART_WITH_SCRIPTS = {
    "multipart/form-data": {
        "type": "object",
        "properties": {
            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "expected_text": {"type": "array", "items": {"type": "string"}, "description": "one per file"},
            "manifest": {"type": "string", "format": "binary", "description": "JSON or CSV: filename, text"},
        },
    }
}
TEXT_KEYS = ("expected_text", "text", "script")


class ExpectedTextSerializer(serializers.Serializer):
    expected_text = serializers.CharField(
        max_length=MAX_SCRIPT_CHARS,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        default="",
        help_text="the script the TTS was asked to say (the transcript is checked against it)",
    )


class ScriptSerializer(serializers.Serializer):
    """PATCH of an audio file's or an inference file's script."""

    expected_text = serializers.CharField(
        max_length=MAX_SCRIPT_CHARS, allow_blank=True, trim_whitespace=False
    )


def invalid(part: str, message: str) -> Unprocessable:
    return Unprocessable(["body", part], message, "value_error")


def checked(text: object, part: str) -> str:
    if not isinstance(text, str):
        raise invalid(part, "each script must be a string")
    if len(text) > MAX_SCRIPT_CHARS:
        raise invalid(part, f"a script is longer than {MAX_SCRIPT_CHARS} characters")
    return text


def scripts_for(request, names: list[str]) -> list[str]:
    """Each uploaded file's script ("" for none), in the order of `names`."""
    fields = request.data.getlist("expected_text") if hasattr(request.data, "getlist") else []
    manifest = request.FILES.get("manifest") or request.data.get("manifest")
    if fields and manifest:
        raise invalid("manifest", "send scripts either as expected_text fields or as a manifest, not both")
    if fields:
        if len(fields) != len(names):
            raise invalid(
                "expected_text",
                f"{len(fields)} expected_text field(s) for {len(names)} file(s): send one per file, in order",
            )
        return [checked(t, "expected_text") for t in fields]
    if not manifest:
        return [""] * len(names)
    by_name = parse_manifest(manifest)
    unknown = sorted(set(by_name) - set(names))
    if unknown:
        named = ", ".join(unknown[:5])
        raise invalid("manifest", f"the manifest names files that were not uploaded: {named}")
    return [by_name.get(name, "") for name in names]


def read_manifest(manifest) -> str:
    if isinstance(manifest, str):
        raw = manifest.encode()
    else:
        if manifest.size > MAX_MANIFEST_BYTES:
            raise invalid("manifest", f"the manifest is larger than {MAX_MANIFEST_BYTES // 1024 // 1024} MB")
        raw = manifest.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("manifest", "the manifest is not UTF-8 text") from None


def parse_manifest(manifest) -> dict[str, str]:
    text = read_manifest(manifest).strip()
    if not text:
        raise invalid("manifest", "the manifest is empty")
    if text[0] in "[{":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            why = f"the manifest is not valid JSON: {exc.msg} (line {exc.lineno})"
            raise invalid("manifest", why) from None
        if isinstance(rows, dict):
            return {checked(k, "manifest"): checked(v, "manifest") for k, v in rows.items()}
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise invalid("manifest", "a JSON manifest is an object {filename: text} or a list of objects")
        return entries(rows)
    try:
        return entries(list(csv.DictReader(io.StringIO(text))))
    except csv.Error as exc:
        raise invalid("manifest", f"the manifest is not valid CSV: {exc}") from None


def entries(rows: list[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in rows:
        name = next((row[k] for k in NAME_KEYS if row.get(k) is not None), None)
        text = next((row[k] for k in TEXT_KEYS if row.get(k) is not None), None)
        if name is None or text is None:
            raise invalid("manifest", "each manifest entry needs a filename and an expected_text")
        out[checked(name, "manifest")] = checked(text, "manifest")
    return out
