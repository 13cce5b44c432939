"""Command line: `python -m storyloom serve`, plus user and key administration."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from storyloom import logs
from storyloom.config import ConfigurationError, Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        address=getattr(args, "address", None),
        data_dir=Path(args.data_dir) if args.data_dir else None,
        database_url=args.database_url,
        port_file=Path(args.port_file) if getattr(args, "port_file", None) else None,
        log_level=getattr(args, "log_level", None),
        log_format=getattr(args, "log_format", None),
    )


async def _create_user(settings: Settings, name: str) -> None:
    from storyloom.app import admin_accounts

    async with admin_accounts(settings) as accounts:
        user = await accounts.create_user(name)
        key = await accounts.create_key(user.id)
    print(f"user: users/{user.id}\napi key: {key}")


async def _create_key(settings: Settings, user_id: str) -> None:
    from storyloom.app import admin_accounts

    async with admin_accounts(settings) as accounts:
        key = await accounts.create_key(user_id.removeprefix("users/"))
    print(f"api key: {key}")


async def _list_keys(settings: Settings, user: str | None) -> None:
    from storyloom.app import admin_accounts

    async with admin_accounts(settings) as accounts:
        keys = await accounts.list_keys(user.removeprefix("users/") if user else None)
    print(f"{'key id':34} {'user':18} {'created':26} revoked")
    for key in keys:
        revoked = key.revoke_time.isoformat(timespec="seconds") if key.revoke_time else "-"
        print(f"{key.id:34} {key.user_id:18} {key.create_time.isoformat(timespec='seconds'):26} {revoked}")


async def _revoke_key(settings: Settings, key: str) -> int:
    from storyloom.app import admin_accounts

    async with admin_accounts(settings) as accounts:
        revoked = await accounts.revoke_key(key)
    if not revoked:
        print("storyloom: no live key with that id", file=sys.stderr)
        return 1
    print("revoked: every replica refuses it from now on")
    return 0


async def _migrate(settings: Settings) -> None:
    from storyloom.store.db import Database

    db = Database(settings.resolved_database_url, settings.sqlite_synchronous)
    try:
        await db.migrate()
    finally:
        await db.close()
    print("database is at the newest schema")


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except ConfigurationError as exc:  # said plainly, without a traceback: the fix is in the settings
        print(f"storyloom: configuration error: {exc}", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="storyloom", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (env STORYLOOM_DATA_DIR, default ./data)")
    common.add_argument("--database-url",
                        help="SQLAlchemy URL (env STORYLOOM_DATABASE_URL; default SQLite in data dir)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="serve gRPC")
    serve.add_argument("--address", help="host:port to listen on (env STORYLOOM_ADDRESS, default 127.0.0.1:50051)")
    serve.add_argument("--port-file", help="write the bound port here once serving (useful with port 0)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING... (env STORYLOOM_LOG_LEVEL)")
    serve.add_argument("--log-format", choices=["json", "text"], help="env STORYLOOM_LOG_FORMAT, default json")

    worker = commands.add_parser("worker", parents=[common], help="run tasks only (serve runs them too, by default)")
    worker.add_argument("--ready-file", help="write the worker id here once it is claiming tasks")
    worker.add_argument("--log-level", help="DEBUG, INFO, WARNING... (env STORYLOOM_LOG_LEVEL)")
    worker.add_argument("--log-format", choices=["json", "text"], help="env STORYLOOM_LOG_FORMAT, default json")

    users = commands.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    create_user = users.add_parser("create", parents=[common], help="create a user and an API key for it")
    create_user.add_argument("name", help="display name")

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="action", required=True)
    create_key = keys.add_parser("create", parents=[common], help="create another API key for a user")
    create_key.add_argument("user", help="user id or users/{id}")
    list_keys = keys.add_parser("list", parents=[common], help="list API keys (ids, never the keys)")
    list_keys.add_argument("--user", help="only this user's keys (id or users/{id})")
    revoke_key = keys.add_parser("revoke", parents=[common], help="revoke an API key on every replica")
    revoke_key.add_argument("key", help="the key id (from `keys list`), or the key itself")

    commands.add_parser("migrate", parents=[common], help="apply database migrations and exit")

    args = parser.parse_args(argv)
    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format if args.command in ("serve", "worker") else "text")
    if args.command == "serve":
        from storyloom.server import serve as run_server

        asyncio.run(run_server(settings))
    elif args.command == "worker":
        from storyloom.server import work

        asyncio.run(work(settings, Path(args.ready_file) if args.ready_file else None))
    elif args.command == "users":
        asyncio.run(_create_user(settings, args.name))
    elif args.command == "keys" and args.action == "list":
        asyncio.run(_list_keys(settings, args.user))
    elif args.command == "keys" and args.action == "revoke":
        return asyncio.run(_revoke_key(settings, args.key))
    elif args.command == "keys":
        asyncio.run(_create_key(settings, args.user))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
