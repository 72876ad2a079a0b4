"""Built-in models: detectors that ship with Relay, listed for every team, usable at once.

Their weights live in `relayml/builtin/` beside the command that rebuilds them and the metrics they
reached (relayml/builtin/README.md): `NAME.pt` and `NAME.json` (types, metrics, config and the
weights' sha256, written by the same command), read without torch. Each is registered as a
`DetectorModel` without a team, with a fixed id (the same on every installation, so scripts can
name it), after every `migrate`.
A team uses one for inference like its own models, or as the starting point of training
(`config.base_model_id`); nobody can rename or delete it.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from relayml.ingest import sha256_of
from relayweb import storage
from training.models import DetectorModel, ModelTask

log = logging.getLogger(__name__)

PREFIX = "builtin:"
NAMESPACE = uuid.UUID("6f1d7f0e-2b7c-4a53-9a51-7d3c8e0b5a10")


@dataclass(frozen=True)
class Builtin:
    key: str
    name: str
    filename: str

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, self.key)

    @property
    def path(self) -> Path:
        return Path(settings.RELAY_BUILTIN_MODELS_DIR) / self.filename

    def card(self) -> dict:
        return json.loads(self.path.with_suffix(".json").read_text())


# v1 (log-mels alone) was replaced by v2 (waveform-detail features, per-type floors), v2 by v3
# (recorded people among its training speech): install() removes the rows of built-ins that no
# longer ship; models a team trained from them keep their own weights.
# The verdict model (relayml.verdict_build) is a clip classifier of human / artificial: listed so
# teams see its held-out figures and fine-tune it (training task "classification") on their audio.
BUILTINS = (
    Builtin("relay-base-detector-v3", "Relay base detector v3", "base-detector-v3.pt"),
    Builtin("relay-verdict-v1", "Relay verdict model v1 (human / artificial)", "verdict-v1.pt"),
)


def visible_models(team):
    """A team's own models and the built-in ones."""
    return DetectorModel.objects.filter(Q(team=team) | Q(team__isnull=True))


def team_verdict_models(team) -> list[DetectorModel]:
    """The team's own human / artificial classifiers: offered beside the built-in verdict model."""
    return [
        m for m in DetectorModel.objects.filter(team=team, task=ModelTask.CLASSIFICATION) if m.gives_verdicts
    ]


def model_file(model: DetectorModel) -> Path:
    """A local file with the model's weights: beside the code for a built-in one; a trained one's
    stored file (its cached copy with S3 storage)."""
    if model.file_path.startswith(PREFIX):
        return Path(settings.RELAY_BUILTIN_MODELS_DIR) / model.file_path.removeprefix(PREFIX)
    path = storage.cached_copy(model.file_path)
    if path is None:
        raise FileNotFoundError(f"the model's file is missing from storage ({model.file_path})")
    return path


def install() -> list[DetectorModel]:
    """Register (or refresh) every built-in model whose weights are present and intact."""
    installed = []
    for builtin in BUILTINS:
        if not builtin.path.exists():
            log.warning("built-in model %s is missing: %s", builtin.key, builtin.path)
            continue
        card = builtin.card()
        digest = sha256_of(str(builtin.path))
        if digest != card["sha256"]:
            log.error("built-in model %s does not match its card's sha256; not installed", builtin.key)
            continue
        model, _ = DetectorModel.objects.update_or_create(
            id=builtin.id,
            defaults={
                "team": None,
                "name": builtin.name,
                # A detector's card names its types; a classifier's, its labels (classes).
                "artifact_types": card.get("artifact_types") or card["labels"],
                "task": ModelTask.DETECTION if "artifact_types" in card else ModelTask.CLASSIFICATION,
                "config": card["config"],
                # Validation metrics, and how it did on engines it never heard (the honest figure).
                "metrics": {**card.get("metrics", {}), "held_out": card.get("held_out") or {}},
                "file_path": PREFIX + builtin.filename,
                "size_bytes": builtin.path.stat().st_size,
            },
        )
        installed.append(model)
    # Models trained from a removed one keep their own weights; inference jobs keep only its id.
    shipped = [builtin.id for builtin in BUILTINS]
    DetectorModel.objects.filter(team__isnull=True, file_path__startswith=PREFIX).exclude(
        id__in=shipped
    ).delete()
    return installed
