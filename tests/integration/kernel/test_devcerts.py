"""The local run's certificates (outbound_cli/devcerts.py): made once, reused while valid, made
again when expiring or signed by another CA; each names its process."""

from __future__ import annotations

import stat

from cryptography import x509
from cryptography.x509.oid import NameOID

from outbound_cli import devcerts


def test_every_process_gets_a_certificate_naming_it_and_private_keys_stay_private(tmp_path):
    directory = devcerts.ensure(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    for name in devcerts.NAMES:
        files = devcerts.files_for(directory, name)
        cert = x509.load_pem_x509_certificate(open(files.cert, "rb").read())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [name]
        assert stat.S_IMODE((directory / f"{name}.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600


def test_a_second_run_reuses_them(tmp_path):
    directory = devcerts.ensure(tmp_path / "tls")
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    devcerts.ensure(tmp_path / "tls")
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before


def test_an_expiring_ca_remakes_everything_and_a_stranger_certificate_is_reissued(tmp_path):
    short = devcerts.ensure(tmp_path / "short", days=1)  # within the one-day margin: expiring
    old = (short / "account.crt").read_bytes()
    devcerts.ensure(tmp_path / "short")
    assert (short / "account.crt").read_bytes() != old

    mine = devcerts.ensure(tmp_path / "mine")
    other = devcerts.ensure(tmp_path / "other", ["gateway"])
    (mine / "gateway.crt").write_bytes((other / "gateway.crt").read_bytes())
    devcerts.ensure(tmp_path / "mine")
    ca = x509.load_pem_x509_certificate((mine / "ca.crt").read_bytes())
    x509.load_pem_x509_certificate((mine / "gateway.crt").read_bytes()).verify_directly_issued_by(ca)
