"""The `bipa` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bipa import logs
from bipa.settings import Settings, SettingsError

log = logging.getLogger("bipa.cli")
REPORT_FORMATS = ("CSV", "XLSX", "PDF")


def version() -> str:
    """The installed distribution's version (pyproject.toml's, through the package metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("bipa")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bipa", description="Bipa delivery sessions service")
    parser.add_argument("--version", action="version", version=f"bipa {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the GraphQL server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    sub.add_parser("migrate", help="apply database migrations")

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user and print its API token once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["ADMIN", "MANAGER", "DELIVERER"])
    create.add_argument("--telegram-id")
    create.add_argument("--json", action="store_true")
    link = users.add_parser("link-telegram", help="link a user to a Telegram account")
    link.add_argument("--user-id", required=True)
    link.add_argument("--telegram-id", required=True)

    sub.add_parser("demo", help="create demo users and a session, print tokens and a query")
    sub.add_parser("worker", help="deliver webhooks (also runs inside serve by default)")
    sub.add_parser("bot", help="run the Telegram bot (long polling)")
    schema = sub.add_parser("schema", help="print the served GraphQL schema (SDL)")
    schema.add_argument("--output", type=Path, help="write it to this file instead of stdout")
    dump = sub.add_parser("backup", help="write a consistent dump of the database")
    dump.add_argument(
        "--output", type=Path, help="the file (default: a stamped one in BIPA_BACKUP_DIR)"
    )
    dump.add_argument(
        "--to-store", action="store_true", help="also copy it to the object store (backups/)"
    )
    load = sub.add_parser("restore", help="load a dump into an empty database")
    load.add_argument("file", help="a dump file, or its key with --from-store")
    load.add_argument("--from-store", action="store_true", help="FILE is a key in the store")
    load.add_argument("--into", help="the database URL to load into (default: DATABASE_URL)")
    _job_parsers(sub)
    scan = sub.add_parser("scan", help="read barcodes from photos", add_help=False)
    scan.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _job_parsers(sub: Any) -> None:
    """`bipa import` and `bipa export` (bipa/jobs_cli.py): the same jobs as the API's."""
    imp = sub.add_parser("import", help="import a delivery manifest (CSV or XLSX) into a session")
    imp.add_argument("file", type=Path)
    imp.add_argument("--session", required=True, help="the session's id")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument(
        "--all-or-nothing", action="store_true", help="write nothing if any row is refused"
    )
    imp.add_argument("--problems", type=Path, help="write the per-row problems CSV here")
    _common(imp)
    exp = sub.add_parser("export", help="write a session's report (CSV, XLSX or PDF)")
    exp.add_argument("--session", required=True, help="the session's id")
    exp.add_argument("--format", required=True, type=str.upper, choices=REPORT_FORMATS)
    exp.add_argument("--output", type=Path, help="the file (default: sessao-<id>.<ext> here)")
    _common(exp)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="the acting user's API token (default: BIPA_TOKEN)")
    parser.add_argument("--key", help="an idempotency key (the same key: the same job)")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["scan"]:
        from bipa import scan_cli

        return scan_cli.main(args_list[1:])
    args = _parser().parse_args(args_list)
    if args.command == "schema":
        # Needs no settings and no database: CI and a fresh clone can run it as is.
        return write_schema(args.output)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        # Even this one line is JSON: whatever reads our stderr parses every line.
        logs.configure("INFO")
        log.error(f"invalid setting: {exc}")
        return 2
    logs.configure(settings.log_level)
    from bipa.backup import BackupError
    from bipa.database import DatabaseUnavailable

    try:
        return _dispatch(args, settings)
    except DatabaseUnavailable as exc:
        # The operator's to fix (address, name, credentials): one line, not a traceback.
        log.error(str(exc))
        return 2
    except BackupError as exc:
        log.error(f"backup: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


def schema_sdl() -> str:
    """The SDL of the schema `bipa serve` serves; the committed schema.graphql must equal it."""
    from gql.schema import build_schema

    return build_schema().as_str() + "\n"


def write_schema(output: Path | None) -> int:
    sdl = schema_sdl()
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl, encoding="utf-8")
    return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from bipa import commands, database

    if args.command == "serve":
        return commands.serve(settings, host=args.host, port=args.port)
    if args.command == "restore":
        from bipa import backup

        # No migrations first: the dump holds the schema, and the target must be empty.
        target = args.into or database.resolve_url(settings)
        dump = Path(args.file)
        if args.from_store:
            from bipa.app import make_store

            dump = asyncio.run(
                backup.from_store(make_store(settings), args.file, backup.backup_dir(settings))
            )
        backup.restore(target, dump)
        return 0
    url = database.resolve_url(settings)
    if args.command == "backup":
        from bipa import backup

        written = backup.backup(url, args.output or backup.stamped(backup.backup_dir(settings)))
        print(written)
        if args.to_store:
            from bipa.app import make_store

            print(asyncio.run(backup.to_store(make_store(settings), written)))
        return 0
    if args.command == "migrate":
        database.migrate(url)
        log.info("migrations applied")
        return 0
    database.migrate(url)
    if args.command == "users" and args.users_command == "create":
        created = asyncio.run(commands.create_user(url, args.name, args.role, args.telegram_id))
        if created is None:
            return 1
        if args.json:
            print(json.dumps(created))
        else:
            print(f"created {created['role']} {created['name']} ({created['id']})")
            print(f"API token (shown once, keep it safe): {created['token']}")
        return 0
    if args.command == "users" and args.users_command == "link-telegram":
        return asyncio.run(commands.link_telegram(url, args.user_id, args.telegram_id))
    if args.command == "demo":
        return asyncio.run(commands.demo(url, settings))
    if args.command == "worker":
        return commands.worker(settings, url)
    if args.command in ("import", "export"):
        from bipa import jobs_cli

        return jobs_cli.run(args, settings, url)
    if args.command == "bot":
        from bipa.bot_cli import run_bot

        return run_bot(settings, url)
    return 2


if __name__ == "__main__":  # `python -m bipa.cli`, used by the tests
    sys.exit(main())
