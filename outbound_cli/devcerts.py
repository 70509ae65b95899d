"""A throwaway certificate authority and one certificate per process, for `outbound run` and the tests.

Development only: in a cluster the certificates come from cert-manager (deploy/README.md). A
certificate's subject common name is the process's identity (`account`, `gateway`, `cli`, …) and
its one DNS name the name a client checks the server against (kernel.tls). Files are reused
while they are valid for another day and signed by the CA beside them; the CA is made again
(and every certificate with it) only when it is missing or about to expire.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kernel.tls import TlsFiles
from outbound_cli.serve import SERVICES

# Every process of a local run: the services, the gateway, and the operator's CLI.
NAMES = (*SERVICES, "gateway", "cli")
CA_NAME = "Outbound development CA"
VALID_DAYS = 30
_MARGIN = dt.timedelta(days=1)


def files_for(directory: Path, name: str) -> TlsFiles:
    directory = Path(directory).resolve()
    return TlsFiles(str(directory / f"{name}.crt"), str(directory / f"{name}.key"), str(directory / "ca.crt"))


def ensure(directory: Path, names: Iterable[str] = NAMES, days: int = VALID_DAYS) -> Path:
    """The CA and a certificate for each name under `directory`, made where missing or expiring."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now(dt.UTC)
    ca = _load_ca(directory, now)
    if ca is None:
        ca = _new_ca(directory, now, days)
        for stale in directory.glob("*.crt"):
            if stale.name != "ca.crt":
                stale.unlink()
    ca_cert, ca_key = ca
    for name in names:
        if not _still_good(directory / f"{name}.crt", ca_cert, now):
            _issue(directory, name, ca_cert, ca_key, now, days)
    return directory


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_ca(directory: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc < now + _MARGIN:
        return None
    return cert, key


def _new_ca(directory: Path, now: dt.datetime, days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(directory / "ca.key", _key_pem(key), private=True)
    _write(directory / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _still_good(path: Path, ca_cert: x509.Certificate, now: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca_cert)
    except (OSError, ValueError, TypeError, InvalidSignature):  # unreadable, or signed by another CA
        return False
    return cert.not_valid_after_utc >= now + _MARGIN and path.with_suffix(".key").exists()


def _issue(directory: Path, name: str, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
           now: dt.datetime, days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(directory / f"{name}.key", _key_pem(key), private=True)
    _write(directory / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM))
