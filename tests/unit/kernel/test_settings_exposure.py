"""Settings of least exposure: loopback listeners by default, TLS files all or none, broker
credentials from their own variables, and no password in the settings' repr or errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import parse_url

from kernel import settings

VARS = ("GRPC_HOST", "GRPC_HEALTH_PORT", "GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CA", "NATS_URL", "NATS_USER",
        "NATS_PASSWORD", "REDIS_URL", "REDIS_PASSWORD", "METRICS_HOST")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_listeners_are_loopback_and_plaintext_unless_configured():
    loaded = settings.load()
    assert (loaded.grpc_host, loaded.metrics_host, loaded.http_host) == ("127.0.0.1",) * 3
    assert (loaded.grpc_tls_cert, loaded.grpc_health_port) == ("", None)


def test_tls_files_and_health_port_are_read(monkeypatch):
    for name, value in (("GRPC_TLS_CERT", "/t/a.crt"), ("GRPC_TLS_KEY", "/t/a.key"), ("GRPC_TLS_CA", "/t/ca.crt"),
                        ("GRPC_HEALTH_PORT", "50050")):
        monkeypatch.setenv(name, value)
    loaded = settings.load()
    assert (loaded.grpc_tls_cert, loaded.grpc_tls_key, loaded.grpc_tls_ca) == ("/t/a.crt", "/t/a.key", "/t/ca.crt")
    assert loaded.grpc_health_port == 50050


@pytest.mark.parametrize("given_vars", [("GRPC_TLS_CERT",), ("GRPC_TLS_CERT", "GRPC_TLS_KEY"), ("GRPC_TLS_CA",)])
def test_half_a_tls_set_up_is_refused_not_plaintext(monkeypatch, given_vars):
    for name in given_vars:
        monkeypatch.setenv(name, "/t/file")
    with pytest.raises(settings.SettingsError, match="together"):
        settings.load()


def test_nats_credentials_go_into_every_server_url(monkeypatch):
    monkeypatch.setenv("NATS_URL", "nats://a:4222, nats://b:4222,nats://old:pw@c:4222")
    monkeypatch.setenv("NATS_USER", "outbound")
    monkeypatch.setenv("NATS_PASSWORD", "s3cr3t-Pass_word")
    assert settings.load().nats_url == ("nats://outbound:s3cr3t-Pass_word@a:4222,nats://outbound:s3cr3t-Pass_word@b:4222,"
                                        "nats://old:pw@c:4222")


@pytest.mark.parametrize("pairs", [{"NATS_USER": "outbound"}, {"NATS_PASSWORD": "pw"},
                                   {"NATS_USER": "outbound", "NATS_PASSWORD": "p@ss/word"}])
def test_unusable_nats_credentials_are_named_never_shown(monkeypatch, pairs):
    for name, value in pairs.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError) as caught:
        settings.load()
    assert "NATS_" in str(caught.value) and "p@ss/word" not in str(caught.value)


# Any text an environment variable can hold (no NUL).
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
               min_size=1, max_size=30))
def test_any_redis_password_survives_the_url(password):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REDIS_URL", "redis://cache:6379/2")
        patch.setenv("REDIS_PASSWORD", password)
        url = settings.load().redis_url
    parsed = parse_url(url)
    assert (parsed["password"], parsed["host"], parsed["port"], parsed["db"]) == (password, "cache", 6379, 2)


def test_no_password_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("NATS_USER", "outbound")
    monkeypatch.setenv("NATS_PASSWORD", "natsSecret1")
    monkeypatch.setenv("REDIS_PASSWORD", "redisSecret2")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:dbSecret3@db/outbound")
    text = repr(settings.load())
    assert not any(secret in text for secret in ("natsSecret1", "redisSecret2", "dbSecret3"))
