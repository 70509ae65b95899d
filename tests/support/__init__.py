"""Test harness: real PostgreSQL/Redis/NATS and the real processes, never mocks."""
