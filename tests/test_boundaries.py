"""The import boundaries: the web process never loads torch, the speech recogniser (CTranslate2,
onnxruntime) or the evaluation stack (sed_scores_eval, pandas, numba); relayml never loads Django.

Each check runs in a fresh interpreter, so nothing the test session imported can hide a leak.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

WEB = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayweb.settings")
import django
django.setup()
from django.urls import get_resolver
import relayweb.wsgi
get_resolver().url_patterns  # imports every API and page module, as the first request does
heavy = {"torch", "torchaudio", "faster_whisper", "ctranslate2", "onnxruntime"}
heavy |= {"sed_scores_eval", "pandas", "numba"}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
print(" ".join(loaded[:5]) or "clean")
"""

ML = """
import pkgutil, sys, importlib
import relayml
for module in pkgutil.iter_modules(relayml.__path__):
    importlib.import_module(f"relayml.{module.name}")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"django", "rest_framework", "django_q"})
print(" ".join(loaded[:5]) or "clean")
"""


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_web_process_never_imports_torch_the_recogniser_or_the_evaluation_stack():
    assert run(WEB) == "clean"


def test_relayml_never_imports_django():
    assert run(ML) == "clean"
