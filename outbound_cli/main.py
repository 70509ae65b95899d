"""Entry point of the `outbound` command."""

from __future__ import annotations

import argparse
import sys

from outbound_cli import admin
from outbound_cli.serve import ALL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outbound", description="Outbound voice-calling campaigns")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("name", choices=ALL)
    sub.add_parser("migrate", help="apply every context's schema migrations")
    sub.add_parser("run", help="start PostgreSQL, Redis, NATS and every service locally, with a demo org")
    admin.add_parser(sub)
    args = parser.parse_args(argv)

    if args.command == "serve":
        from outbound_cli.serve import serve as serve_one

        serve_one(args.name)
        return 0
    if args.command == "migrate":
        from kernel import migrations
        from kernel import settings as settings_module

        migrations.upgrade(settings_module.get().database_url)
        print("migrations applied")
        return 0
    if args.command == "run":
        from outbound_cli.local import run_local

        return run_local()
    return admin.run(args)


if __name__ == "__main__":
    sys.exit(main())
