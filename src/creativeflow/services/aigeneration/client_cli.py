"""`aigen generate` and `aigen status`: the Python client with a live progress display."""

import argparse
import asyncio
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .client import AsyncGenerationClient, GenerationApiError, GenerationRequestRead

PROGRESS = {
    "pending": 5,
    "validating_credits": 10,
    "publishing_to_queue": 15,
    "processing_samples": 25,
    "awaiting_selection": 50,
    "processing_final": 75,
    "completed": 100,
}
console = Console(stderr=True)


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    generate = commands.add_parser("generate", help="create a request, watch it, fetch the final")
    generate.add_argument("prompt")
    generate.add_argument("--format", default="instagram_post")
    generate.add_argument("--project", default="cli")
    generate.add_argument(
        "--select",
        type=int,
        choices=range(1, 9),
        metavar="N",
        help="pick sample N (1-4) for the final; without it, stop at the samples",
    )
    generate.add_argument("--resolution", choices=("standard", "high"), default="standard")
    generate.add_argument("--out", type=Path, help="where to save the final image")
    status = commands.add_parser("status", help="show a request")
    status.add_argument("request_id")
    for parser in (generate, status):
        parser.add_argument(
            "--url", default=os.environ.get("AIGEN_API_URL", "http://127.0.0.1:8000")
        )
        parser.add_argument(
            "--token",
            default=os.environ.get("AIGEN_TOKEN"),
            help="bearer token (default: $AIGEN_TOKEN, or a development token)",
        )
        parser.add_argument("--user", default="dev-user", help="user of the development token")


def run(args: argparse.Namespace) -> int:
    token = args.token or _development_token(args.user)
    try:
        if args.command == "status":
            return asyncio.run(_status(args.url, token, args.request_id))
        return asyncio.run(_generate(args, token))
    except GenerationApiError as error:
        console.print(f"[bold red]{error.code}[/]: {error.message}")
        for detail in error.details:
            console.print(f"  {detail.get('field', '')}: {detail.get('message', '')}")
        return 1


def _development_token(user: str) -> str:
    from .core.config import load_settings
    from .core.security import create_dev_token

    return create_dev_token(load_settings(), user)


async def _status(url: str, token: str, request_id: str) -> int:
    async with AsyncGenerationClient(url, token) as client:
        _show(await client.get(request_id))
    return 0


async def _generate(args: argparse.Namespace, token: str) -> int:
    async with AsyncGenerationClient(args.url, token) as client:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("creating", total=100)
            request = await client.create(args.prompt, args.format, args.project)
            request = await _follow(client, request, {"awaiting_selection"}, progress, task)
            if request.status == "awaiting_selection" and args.select:
                sample = request.sample_asset_infos[args.select - 1]
                await client.select_sample(request.id, sample.asset_id, resolution=args.resolution)
                request = await _follow(client, request, {"completed"}, progress, task)
        _show(request)
        if request.status == "completed" and args.out and request.final_asset_info:
            await client.download(request.final_asset_info.url, args.out)
            console.print(f"saved [bold]{args.out}[/] ({request.final_asset_info.resolution})")
        return 0 if request.status in ("completed", "awaiting_selection") else 1


async def _follow(
    client: AsyncGenerationClient,
    request: GenerationRequestRead,
    until: set[str],
    progress: Progress,
    task: TaskID,
) -> GenerationRequestRead:
    latest = request
    async for latest in client.events(request.id):
        progress.update(task, completed=PROGRESS.get(latest.status, 100), description=latest.status)
        if latest.status in until or latest.status in ("failed", "content_rejected", "cancelled"):
            break
    return latest


def _show(request: GenerationRequestRead) -> None:
    print(f"{request.id}  {request.status}")
    for index, sample in enumerate(request.sample_asset_infos, start=1):
        print(f"  sample {index}: {sample.url} ({sample.resolution})")
    if request.final_asset_info:
        print(f"  final: {request.final_asset_info.url} ({request.final_asset_info.resolution})")
    if request.error_code:
        print(f"  error: {request.error_code}: {request.error_message}")
