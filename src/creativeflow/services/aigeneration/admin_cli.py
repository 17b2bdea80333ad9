"""`aigen admin …`: the admin routes (contract §8) from a shell, on the service's own settings.
Each action is audited with the operator's login as `cli:<user>` and a reason."""

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from .api.dependencies import ApiServices
from .application.admin.actions import AdminAction
from .application.errors import ApplicationError
from .core.config import Settings
from .domain.errors import DomainError


def add_commands(commands: Any) -> None:
    admin = commands.add_parser("admin", help="operators' actions (audited)")
    actions = admin.add_subparsers(dest="admin_command", required=True)
    actions.add_parser("dead-letters", help="list the jobs RabbitMQ dead-lettered (kept there)")
    redrive = actions.add_parser("redrive-dead-letter", help="publish a dead-lettered job again")
    redrive.add_argument("job_id")
    actions.add_parser("outbox", help="list the deliveries the relay gave up on")
    delivery = actions.add_parser("redrive-delivery", help="deliver a given-up outbox row again")
    delivery.add_argument("row_id", type=int)
    refund = actions.add_parser("refund", help="refund a charged step of a request, once")
    refund.add_argument("request_id")
    refund.add_argument("--job", dest="job_id", help="the step (default: the newest charged)")
    fail = actions.add_parser("fail", help="fail the step in flight of a stuck request")
    fail.add_argument("request_id")
    erase = actions.add_parser("erase-user", help="erase every request and upload of a user")
    erase.add_argument("user_id")
    for action in (redrive, delivery, refund, fail, erase):
        action.add_argument("--reason", required=True, help="why, for the audit log")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from .composition.root import build_container

    container = await build_container(settings, with_relay=False, with_sweeps=False)
    try:
        command = _COMMANDS[args.admin_command]
        action = AdminAction(f"cli:{getpass.getuser()}", getattr(args, "reason", ""))
        result = await command(container.api, action, args)
    except (ApplicationError, DomainError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await container.aclose()
    print(json.dumps(_plain(result), default=str, indent=2))
    return 0


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


Command = Callable[[ApiServices, AdminAction, argparse.Namespace], Awaitable[Any]]
_COMMANDS: dict[str, Command] = {
    "dead-letters": lambda api, _, args: api.admin_deliveries.dead_letters(1000),
    "redrive-dead-letter": lambda api, action, args: api.admin_deliveries.redrive_dead_letter(
        action, args.job_id
    ),
    "outbox": lambda api, _, args: api.admin_deliveries.given_up(1000),
    "redrive-delivery": lambda api, action, args: api.admin_deliveries.redrive_delivery(
        action, args.row_id
    ),
    "refund": lambda api, action, args: _request(
        api.admin_requests.refund_step(action, args.request_id, args.job_id)
    ),
    "fail": lambda api, action, args: _request(api.admin_requests.fail(action, args.request_id)),
    "erase-user": lambda api, action, args: api.admin_requests.erase_user(action, args.user_id),
}


async def _request(moved: Awaitable[Any]) -> dict[str, Any]:
    request = await moved
    return {"id": request.id, "status": str(request.status), "error_code": request.error_code}
