"""The evidence bundle: the CSV, the evidence files it references, and a manifest of sha256s.

An auditor hands the zip to a department; the department must be able to check that nothing was
altered since the finding was recorded. So each file's sha256 is computed from the bytes put in
the zip and compared with the sha256 stored when the evidence was written; ``SHA256SUMS`` lets
anyone verify with ``sha256sum -c`` after unzipping, without zwaudit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from zwaudit.findings import utcnow
from zwaudit.paths import evidence_root

log = logging.getLogger(__name__)

_ALREADY_COMPRESSED = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".zip", ".gz"}


@dataclass
class BundleResult:
    path: Path
    files: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _safe_relative(path: str) -> PurePosixPath | None:
    """A stored evidence path, refused if it could escape the evidence root."""
    rel = PurePosixPath(path.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        return None
    return rel


def write_bundle(
    bundle: Path,
    csv_path: Path,
    evidence: Mapping[str, str | None],
    *,
    run_id: int,
    root: Path | None = None,
    filters: Mapping[str, Any] | None = None,
) -> BundleResult:
    """Zip ``csv_path`` and the ``evidence`` files (relative path → stored sha256) into ``bundle``.

    Missing files and files whose bytes no longer match the stored sha256 are listed in the
    manifest (and returned) rather than silently dropped or silently included.
    """
    base = root or evidence_root()
    bundle.parent.mkdir(parents=True, exist_ok=True)
    tmp = bundle.with_name(f".{bundle.name}.{os.getpid()}.tmp")
    result = BundleResult(path=bundle)
    entries: list[dict[str, Any]] = []
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            sha, size = _sha256(csv_path)
            zf.write(csv_path, csv_path.name)
            entries.append({"path": csv_path.name, "sha256": sha, "bytes": size, "kind": "csv"})
            for stored_path, stored_sha in sorted(evidence.items()):
                rel = _safe_relative(stored_path)
                source = base / rel if rel is not None else None
                if source is None or not source.is_file():
                    result.missing.append(stored_path)
                    continue
                sha, size = _sha256(source)
                arcname = f"evidence/{rel}"
                compress = (
                    zipfile.ZIP_STORED
                    if source.suffix.lower() in _ALREADY_COMPRESSED
                    else zipfile.ZIP_DEFLATED
                )
                zf.write(source, arcname, compress_type=compress)
                verified = stored_sha is None or stored_sha == sha
                if not verified:
                    result.mismatched.append(stored_path)
                entries.append(
                    {
                        "path": arcname,
                        "sha256": sha,
                        "bytes": size,
                        "kind": "evidence",
                        "stored_sha256": stored_sha,
                        "verified": verified,
                    }
                )
            result.files = len(entries)
            manifest = {
                "run_id": run_id,
                "created_at": utcnow().isoformat(timespec="seconds"),
                "filters": dict(filters or {}),
                "files": entries,
                "missing": result.missing,
                "mismatched": result.mismatched,
            }
            zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
            zf.writestr("SHA256SUMS", "".join(f"{e['sha256']}  {e['path']}\n" for e in entries))
        tmp.replace(bundle)
    finally:
        tmp.unlink(missing_ok=True)
    if result.missing:
        log.warning("bundle: %d evidence files missing under %s", len(result.missing), base)
    if result.mismatched:
        log.warning("bundle: %d evidence files differ from their stored sha256", len(result.mismatched))
    return result
