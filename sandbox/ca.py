"""The sandbox's local certificate authority, generated once and kept under ``<dir>/ca/``.

Profiles point ``ca_bundle`` at ``ca.pem`` so the auditor verifies certificates as it would on the
internet. A second, *untrusted* CA signs the certificate of a login host that must fail
verification (``certificate_invalid``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = (
    "ca.pem",
    "ca.key",
    "server.pem",
    "server.key",
    "untrusted-ca.pem",
    "untrusted-server.pem",
    "untrusted-server.key",
)


@dataclass(frozen=True)
class Certificates:
    ca_pem: Path
    server: ssl.SSLContext  # signed by the local CA: verifies with ca.pem
    untrusted: ssl.SSLContext  # signed by another CA: does not verify with ca.pem


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zwaudit sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(common: str, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, now: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _generate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM
    ca_key, ca_cert = _ca("zwaudit sandbox local CA", now)
    key, cert = _leaf(ca_key, ca_cert, now)
    bad_ca_key, bad_ca_cert = _ca("untrusted sandbox CA", now)
    bad_key, bad_cert = _leaf(bad_ca_key, bad_ca_cert, now)
    _write(directory / "ca.key", _pem_key(ca_key), private=True)
    _write(directory / "server.key", _pem_key(key), private=True)
    _write(directory / "untrusted-server.key", _pem_key(bad_key), private=True)
    _write(directory / "server.pem", cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    _write(directory / "untrusted-ca.pem", bad_ca_cert.public_bytes(pem))
    _write(directory / "untrusted-server.pem", bad_cert.public_bytes(pem) + bad_ca_cert.public_bytes(pem))
    _write(directory / "ca.pem", ca_cert.public_bytes(pem))  # last: its presence means "complete"


def _still_valid(directory: Path) -> bool:
    if not all((directory / f).exists() for f in FILES):
        return False
    cert = x509.load_pem_x509_certificate((directory / "server.pem").read_bytes())
    return cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=7)


def _context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def load_or_create(directory: Path) -> Certificates:
    """The CA and server certificates under ``directory``, generated on first use."""
    if not _still_valid(directory):
        _generate(directory)
    return Certificates(
        ca_pem=directory / "ca.pem",
        server=_context(directory / "server.pem", directory / "server.key"),
        untrusted=_context(directory / "untrusted-server.pem", directory / "untrusted-server.key"),
    )
