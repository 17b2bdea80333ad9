"""`aigen`: serve, migrate, worker, simulate-n8n, dev-token, schemas, callback-secret
(contract §5)."""

import argparse
import asyncio
import gc
import os
import secrets
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from . import admin_cli, client_cli
from .core.config import ConfigurationError, Environment, Settings, load_settings
from .core.security import create_dev_token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aigen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (with the outbox relay)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    commands.add_parser("migrate", help="upgrade the database to the newest schema")
    commands.add_parser("worker", help="run the outbox relay and the sweeps without the HTTP API")
    commands.add_parser(
        "simulate-n8n", help="the stand-in for n8n: consume the job queue, render, call back"
    )

    token = commands.add_parser("dev-token", help="print a JWT signed with the configured secret")
    token.add_argument("--user", required=True)
    token.add_argument("--days", type=int, default=7)
    token.add_argument("--role", action="append", default=[], help="a role claim, e.g. admin")

    schemas = commands.add_parser(
        "schemas", help="write the JSON Schemas of the job message and the n8n callbacks"
    )
    schemas.add_argument("--out", default="docs/contracts", help="folder to write them to")
    schemas.add_argument(
        "--check", action="store_true", help="only compare; exit 1 when a file differs"
    )

    commands.add_parser(
        "callback-secret",
        help="print a new callback signing key for n8n's Crypto credential and the matching "
        "N8N_CALLBACK_SECRET",
    )

    credits = commands.add_parser("credits", help="the local ledger's credits")
    credit_commands = credits.add_subparsers(dest="credits_command", required=True)
    grant = credit_commands.add_parser("grant", help="give a user credits (local ledger only)")
    grant.add_argument("--user", required=True)
    grant.add_argument("--amount", required=True, help="credits, e.g. 10 or 2.5")
    grant.add_argument("--reason", default="granted by an operator")

    client_cli.add_commands(commands)
    admin_cli.add_commands(commands)

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command in ("generate", "status"):
        return client_cli.run(args)
    if args.command == "serve":
        return _serve(args.host, args.port, args.workers)
    if args.command == "schemas":
        return _schemas(args.out, args.check)
    if args.command == "callback-secret":
        from .infrastructure.simulator.signing import n8n_callback_secret

        key = secrets.token_urlsafe(32)
        print(f"n8n Crypto credential, HMAC secret: {key}")
        print(f"service setting: N8N_CALLBACK_SECRET={n8n_callback_secret(key)}")
        return 0
    settings = load_settings()
    if args.command == "migrate":
        asyncio.run(_migrate(settings.effective_database_url))
        print("database is at the newest schema")
    elif args.command == "dev-token":
        from datetime import timedelta

        print(create_dev_token(settings, args.user, timedelta(days=args.days), args.role))
    elif args.command == "worker":
        _run_long(_worker())
    elif args.command == "simulate-n8n":
        _run_long(_simulate_n8n())
    elif args.command == "credits":
        return asyncio.run(_grant(settings, args.user, args.amount, args.reason))
    elif args.command == "admin":
        return admin_cli.run(args, settings)
    return 0


def _schemas(out: str, check: bool) -> int:
    from pathlib import Path

    from .api import contract_schemas

    if check:
        differing = contract_schemas.stale(Path(out))
        for name in differing:
            print(f"{out}/{name} differs from the code; run `aigen schemas`", file=sys.stderr)
        return 1 if differing else 0
    for path in contract_schemas.write(Path(out)):
        print(path)
    return 0


def _serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    # Callbacks and asset links point back at this server unless configured otherwise.
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{public_host}:{port}")
    settings = load_settings()
    if settings.environment is Environment.DEVELOPMENT:
        token = create_dev_token(settings, "dev-user")
        console = f"http://{public_host}:{port}/console#token={token}"
        print(f"development token for user dev-user:\n  {token}\n", flush=True)
        print(f"console, signed in as dev-user:\n  {console}\n", flush=True)
    uvicorn.run(
        "creativeflow.services.aigeneration.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # SIGTERM: stop accepting, let requests in flight finish (live streams at most this
        # long), then the lifespan lets the outbox relay finish its batch
        timeout_graceful_shutdown=10,
    )
    return 0


async def _migrate(url: str) -> None:
    from .infrastructure.database.db_config import create_engine
    from .infrastructure.database.migrate import upgrade_to_head

    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def _grant(settings: Settings, user: str, amount: str, reason: str) -> int:
    """Credits for a user of the local ledger; the credit service and Odoo keep their own."""
    import uuid
    from decimal import Decimal, InvalidOperation

    from .application.clock import SystemClock
    from .core.config import CreditBackend
    from .infrastructure.clients.local_ledger import LocalLedger
    from .infrastructure.database.db_config import create_engine
    from .infrastructure.database.migrate import upgrade_to_head

    if settings.effective_credit_backend is not CreditBackend.LOCAL:
        backend = settings.effective_credit_backend
        print(f"credits are kept by the {backend} backend: grant them there", file=sys.stderr)
        return 2
    try:
        credits = Decimal(amount)
        exact = credits.is_finite() and credits == credits.quantize(Decimal("0.0001"))
    except InvalidOperation:
        credits, exact = Decimal(-1), False
    if not exact or credits <= 0:
        print(
            f"--amount: {amount!r} is not a positive number of credits (at most 4 decimals)",
            file=sys.stderr,
        )
        return 2
    engine = create_engine(settings.effective_database_url)
    try:
        if settings.should_auto_migrate:
            await upgrade_to_head(engine)
        ledger = LocalLedger(engine, SystemClock(), settings.local_ledger_starting_balance)
        await ledger.grant(user, credits, f"grant:{uuid.uuid4()}", reason)
        account = await ledger.get_account(user)
    finally:
        await engine.dispose()
    print(f"{user}: balance {account.balance} ({account.tier})")
    return 0


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _freeze_startup_objects() -> None:
    """What start-up built lives as long as the process: out of the collector's sight, so a
    full collection under load walks only what the work made (as `aigen serve` does)."""
    gc.collect()
    gc.freeze()


def _run_long(main: Coroutine[Any, Any, None]) -> None:
    """A long-running command on the event loop `aigen serve` runs on (uvicorn picks uvloop),
    so the relay costs the same in `aigen worker` as inside the server; where uvloop is not
    installed, the standard loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _worker() -> None:
    from .composition.root import build_container
    from .core.logging_config import setup_logging

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    container = await build_container(settings, with_relay=True, with_sweeps=True)
    stop = _stop_on_signals()
    await container.start_background()
    _freeze_startup_objects()
    try:
        await stop.wait()
    finally:
        await container.aclose()


async def _simulate_n8n() -> None:
    from .composition.adapters import build_simulator, rabbitmq_topology
    from .core.logging_config import setup_logging
    from .infrastructure.simulator.n8n_simulator import new_http_session
    from .infrastructure.simulator.queue_worker import RabbitMqJobConsumer

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    url = settings.effective_rabbitmq_url
    if url is None:
        raise ConfigurationError("configuration error: RABBITMQ_URL: needed by simulate-n8n")
    stop = _stop_on_signals()
    async with new_http_session() as http:
        simulator = build_simulator(settings, settings.n8n_callback_secret, http)
        consumer = RabbitMqJobConsumer(
            url, rabbitmq_topology(settings), simulator, settings.simulator_concurrency
        )
        _freeze_startup_objects()
        try:
            await consumer.run(stop)
        finally:
            print(consumer.stats.summary(), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
