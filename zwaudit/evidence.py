"""Writing evidence files under ``<evidence root>/run-<id>/<portal>/<probe>/``.

Every text written goes through the portal's :class:`~zwaudit.redact.Redactor` first, and every
file is hashed as written, so the sha256 in the evidence row is that of the bytes on disk.
Screenshots are the probe's job to mask (Playwright's ``mask``) before they reach here.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zwaudit.errors import RunError
from zwaudit.findings import EvidenceRef
from zwaudit.paths import evidence_root
from zwaudit.redact import Redactor

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: a storage failure that every later write would meet too: the run stops with one clear line
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class EvidenceStorageError(RunError):
    """The evidence disk is full or read-only. Raised, never turned into a finding: the check's
    findings are not stored (evidence is written before the finding rows), and the run fails."""


#: below this much free space no evidence file is started (a screenshot is written by the browser
#: driver, whose own disk error a probe could mistake for a network one)
MIN_FREE_BYTES = 1 << 20


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name fragment from arbitrary text (keywords are Chinese; hash keeps them distinct)."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    stem = _UNSAFE.sub("_", text).strip("_")[:limit]
    return f"{stem}-{digest}" if stem else digest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


class UndeclaredEvidenceError(ValueError):
    """Evidence of a kind its check does not declare (``evidence:`` in ``config/checks.yaml``):
    a programming error, refused like an undeclared reason code."""


ALWAYS_ALLOWED = frozenset({"observation"})  # the runner's stored observation (zwaudit.observations)


def declared_kinds(probe: str) -> frozenset[str] | None:
    """The evidence kinds check ``probe`` declares; None for a check the project does not declare
    (not held to a list)."""
    from zwaudit.registry import declarations

    spec = declarations().check(probe)
    return frozenset(spec.evidence) if spec is not None and spec.declared else None


class EvidenceWriter:
    """Writes one check's evidence for one portal in one run; refuses (:class:`UndeclaredEvidenceError`)
    a kind the check does not declare in the registry."""

    def __init__(
        self,
        run_id: int,
        portal_id: str,
        probe: str,
        redactor: Redactor | None = None,
        root: Path | None = None,
        run_dir: str | None = None,
    ) -> None:
        self.root = root or evidence_root()
        # run_dir: ``run-<id>-<key>`` from the database (store.evidence_run_dir); bare ``run-<id>``
        # only for evidence that belongs to no stored run (the login stand-in's scratch files)
        self.relative_dir = Path(run_dir or f"run-{run_id}") / portal_id / probe
        self.redact = redactor or Redactor()
        self.kinds = declared_kinds(probe)
        self.probe = probe
        # kept as well as raised: a probe's broad ``except`` may swallow it, the orchestrator may not
        self.failure: EvidenceStorageError | None = None

    @contextmanager
    def storage_guard(self, path: Path) -> Iterator[None]:
        """Turn a full or read-only disk while writing ``path`` into :class:`EvidenceStorageError`
        (remembered in :attr:`failure`), removing a half-written file so that no evidence row can
        point at a truncated one."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in STORAGE_ERRNOS:
                raise
            if path.is_file():
                path.unlink(missing_ok=True)
            self.failure = EvidenceStorageError(f"evidence storage: cannot write {path}: {exc.strerror}")
            raise self.failure from exc

    @property
    def directory(self) -> Path:
        path = self.root / self.relative_dir
        with self.storage_guard(path):
            path.mkdir(parents=True, exist_ok=True)
        return path

    def path_for(self, name: str) -> Path:
        """An absolute path for a file the caller writes itself (a screenshot); refused with
        :class:`EvidenceStorageError` when the disk has less than :data:`MIN_FREE_BYTES` free."""
        path = self.directory / name
        with self.storage_guard(path):
            if shutil.disk_usage(path.parent).free < MIN_FREE_BYTES:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return path

    def refuse_undeclared(self, kind: str) -> None:
        """Raise :class:`UndeclaredEvidenceError` for a kind the check does not declare."""
        if self.kinds is not None and kind not in self.kinds and kind not in ALWAYS_ALLOWED:
            raise UndeclaredEvidenceError(
                f"{self.probe} does not declare evidence kind {kind!r} (declared: {', '.join(sorted(self.kinds))})"
            )

    def register(self, kind: str, path: Path, media_type: str) -> EvidenceRef:
        """An :class:`EvidenceRef` for a file already written under :attr:`directory`."""
        self.refuse_undeclared(kind)
        return EvidenceRef(
            kind=kind,
            media_type=media_type,
            path=str(path.relative_to(self.root)),
            sha256=sha256_file(path),
        )

    def text(self, kind: str, name: str, text: str, media_type: str = "text/plain") -> EvidenceRef:
        """Write redacted text (a DOM excerpt, an HTTP log)."""
        self.refuse_undeclared(kind)  # before writing: no file of a refused kind is left behind
        path = self.path_for(name)
        with self.storage_guard(path):
            path.write_text(self.redact(text), encoding="utf-8")
        return self.register(kind, path, media_type)

    def json(self, kind: str, name: str, data: Any) -> EvidenceRef:
        """Write a redacted JSON document."""
        return self.text(kind, name, json.dumps(data, ensure_ascii=False, indent=2), "application/json")

    def url(self, url: str, kind: str = "url") -> EvidenceRef:
        self.refuse_undeclared(kind)
        return EvidenceRef(kind=kind, media_type="text/uri-list", url=self.redact(url))
