"""`outbound serve NAME`: start one service in this process."""

from __future__ import annotations

import asyncio
import importlib

from kernel import logs
from kernel import settings as settings_module

SERVICES = ("account", "audience", "dialer", "program", "execution", "trigger", "webhooks")
ALL = (*SERVICES, "gateway")


def serve(name: str) -> None:
    settings = settings_module.get()
    logs.configure(name, settings.log_level)
    if name == "gateway":
        serve_gateway(settings)
        return
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; one of: {', '.join(ALL)}")
    module = importlib.import_module(f"services.{name}.entrypoints.server")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(module.main(settings))


def serve_gateway(settings: settings_module.Settings) -> None:
    import uvicorn

    from gateway.app import create_app

    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_level="warning",
                timeout_graceful_shutdown=int(settings.grace_seconds))
