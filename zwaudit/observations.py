"""Stored observations: what a two-phase check saw, kept so that its judge can be applied again.

The file is ``observation.json`` beside the check's evidence (``<run dir>/<portal>/<check>/``),
written through the portal's :class:`~zwaudit.redact.Redactor` like every evidence file, and
recorded in the ``observation`` table with its sha256, the check's version and the time it was
observed. It is an envelope::

    {"check": "link_health", "check_version": "1.0.0", "observed_at": "2026-…Z",
     "observation": {…the check's Observation…}}

The live run judges the observation *as stored* (read back from the bytes written), so
``zwaudit rejudge`` of an unchanged rule reproduces the same findings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from zwaudit.checks import Observation
from zwaudit.db import models
from zwaudit.errors import RunError
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import EvidenceRef

FILE_NAME = "observation.json"
KIND = "observation"


@dataclass(frozen=True)
class StoredObservation:
    """An observation file as recorded: where it is, its sha256, the check's version, when."""

    ref: EvidenceRef
    check_version: str
    observed_at: datetime


def write(
    evidence: EvidenceWriter, check: str, version: str, observation: Observation, observed_at: datetime
) -> tuple[StoredObservation, str]:
    """Write the redacted envelope; returns its record and the text written (redacted)."""
    envelope = {
        "check": check,
        "check_version": version,
        "observed_at": observed_at.isoformat(),
        "observation": observation.model_dump(mode="json"),
    }
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    ref = evidence.text(KIND, FILE_NAME, text, "application/json")
    assert ref.path is not None
    stored = (evidence.root / ref.path).read_text(encoding="utf-8")
    return StoredObservation(ref, version, observed_at), stored


def parse(text: str, observation_type: type[Observation]) -> Observation:
    """The observation of an envelope's text, validated against the check's current type."""
    envelope = json.loads(text)
    return observation_type.model_validate(envelope["observation"])


def read_text(sf: sessionmaker[Session] | None, root: Path, path: str, sha256: str | None) -> str:
    """An observation file's text from the evidence root, else from the database's evidence blobs
    (a fleet run); the sha256 recorded must match the bytes, else :class:`RunError`."""
    data: bytes | None = None
    file = root / path
    if file.is_file():
        data = file.read_bytes()
    elif sf is not None:
        with sf() as session:
            blob = session.get(models.EvidenceBlob, path)
            data = bytes(blob.content) if blob is not None else None
    if data is None:
        raise RunError(f"observation file {path} is missing under {root}")
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise RunError(f"observation file {path} does not match its recorded sha256")
    return data.decode("utf-8")


def envelope_facts(text: str) -> dict[str, Any]:
    """The envelope without its observation (check, version, time), for messages."""
    envelope = json.loads(text)
    return {k: v for k, v in envelope.items() if k != "observation"}
