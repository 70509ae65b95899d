"""Settings: the one reader of the environment ("" counts as unset)."""

from kernel import settings

KNOBS = ("PORT", "HOST", "GRPC_HOST", "METRICS_PORT", "METRICS_HOST", "OTEL_TRACES_EXPORTER", "CLOCK_SPEED", "CLOCK_START",
         "CLOCK_ANCHOR", "MAX_BODY_BYTES", "RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST", "LOG_LEVEL")


def test_defaults_when_nothing_is_set(monkeypatch):
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    loaded = settings.load()
    assert (loaded.http_host, loaded.http_port) == ("127.0.0.1", 8080)
    assert (loaded.metrics_port, loaded.metrics_host, loaded.otel_traces_exporter) == (None, "127.0.0.1", "none")
    assert loaded.grpc_host == "127.0.0.1"
    assert (loaded.clock_speed, loaded.clock_start, loaded.clock_anchor) == (1.0, "", None)
    assert (loaded.max_body_bytes, loaded.rate_limit_per_second, loaded.rate_limit_burst) == (2 * 1024 * 1024, 100, None)
    assert loaded.log_level == "INFO"


def test_the_environment_sets_every_knob(monkeypatch):
    values = {"PORT": "9000", "HOST": "0.0.0.0", "GRPC_HOST": "0.0.0.0", "METRICS_PORT": "0", "METRICS_HOST": "0.0.0.0",
              "OTEL_TRACES_EXPORTER": "Console", "CLOCK_SPEED": "60", "CLOCK_START": "2026-01-01T00:00:00Z",
              "CLOCK_ANCHOR": "1700000000.5", "MAX_BODY_BYTES": "4096", "RATE_LIMIT_PER_SECOND": "2",
              "RATE_LIMIT_BURST": "5", "LOG_LEVEL": "debug"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    loaded = settings.load()
    assert (loaded.http_host, loaded.http_port) == ("0.0.0.0", 9000)
    assert (loaded.metrics_port, loaded.metrics_host, loaded.otel_traces_exporter) == (0, "0.0.0.0", "console")
    assert loaded.grpc_host == "0.0.0.0"
    assert (loaded.clock_speed, loaded.clock_start, loaded.clock_anchor) == (60.0, "2026-01-01T00:00:00Z", 1700000000.5)
    assert (loaded.max_body_bytes, loaded.rate_limit_per_second, loaded.rate_limit_burst) == (4096, 2.0, 5.0)
    assert loaded.log_level == "debug"


def test_an_empty_variable_is_unset(monkeypatch):
    monkeypatch.setenv("METRICS_PORT", "")
    monkeypatch.setenv("CLOCK_SPEED", "")
    loaded = settings.load()
    assert loaded.metrics_port is None and loaded.clock_speed == 1.0
