"""The `outbound` command: serve a service, migrate, run everything locally, admin tasks."""
