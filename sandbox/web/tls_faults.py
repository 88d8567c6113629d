"""Certificates that must fail verification in ways other than "unknown CA": expired, and issued
for another name. Both are signed by the sandbox's *trusted* local CA (``ca/ca.key``), so the only
fault a verifier can find is the one planted. Regenerated on every start (EC keys are cheap) and
never written: only the server side needs them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _leaf(
    ca_dir: Path, *, names: list[x509.GeneralName], not_before: dt.datetime, not_after: dt.datetime
) -> tuple[bytes, bytes]:
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    common = names[0].value if isinstance(names[0], x509.DNSName) else "127.0.0.1"
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(common))]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(pem) + ca_cert.public_bytes(pem), key_pem


def _context(chain: bytes, key: bytes) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory(prefix="sbx-tls-") as tmp:  # load_cert_chain reads files only
        cert_path, key_path = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
        cert_path.write_bytes(chain)
        key_path.write_bytes(key)
        key_path.chmod(0o600)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def expired(ca_dir: Path) -> ssl.SSLContext:
    """127.0.0.1's certificate, valid only until 30 days ago."""
    now = dt.datetime.now(dt.UTC)
    ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    return _context(
        *_leaf(
            ca_dir, names=[ip], not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=30)
        )
    )


def wrong_name(ca_dir: Path) -> ssl.SSLContext:
    """A valid certificate, but for ``www.example.gov.cn`` only, served on 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    return _context(
        *_leaf(
            ca_dir,
            names=[x509.DNSName("www.example.gov.cn")],
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=90),
        )
    )
