"""Data the scenarios need, made through the service's own code so it is what the service
would have stored: requests waiting for their samples, signed callbacks, tokens, and many
stored requests for the growth scenario."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from creativeflow.services.aigeneration.application.assets import staging_key
from creativeflow.services.aigeneration.core.config import Settings
from creativeflow.services.aigeneration.core.security import create_dev_token
from creativeflow.services.aigeneration.domain.formats import Dimensions
from creativeflow.services.aigeneration.domain.models import GenerationParameters, GenerationRequest
from creativeflow.services.aigeneration.infrastructure.database.tables import generation_requests
from creativeflow.services.aigeneration.infrastructure.database.types import CREDIT_SCALE
from creativeflow.services.aigeneration.infrastructure.repositories.request_mapping import to_row
from creativeflow.services.aigeneration.infrastructure.simulator.renderer import render_plain
from creativeflow.services.aigeneration.infrastructure.simulator.signing import CallbackSigner

CREATE_BODY = json.dumps(
    {"project_id": "bench", "prompt": "A poster for a summer sale", "format": "instagram_post"}
)


def tokens(settings: Settings, users: int, prefix: str = "bench-user") -> list[str]:
    return [create_dev_token(settings, f"{prefix}-{n}") for n in range(users)]


def waiting_for_samples(count: int, user: str = "bench-callbacks") -> list[GenerationRequest]:
    now = datetime.now(UTC)
    params = GenerationParameters("bench", "instagram_post", Dimensions(1080, 1080))
    requests = []
    for _ in range(count):
        request = GenerationRequest.create(
            request_id=str(uuid.uuid4()),
            user_id=user,
            project_id="bench",
            parameters=params,
            now=now,
        )
        request.start_credit_check(str(uuid.uuid4()), Decimal("0.25"), now, "bench-model")
        request.credits_charged(now)
        request.job_dispatched(now, now + timedelta(hours=1))
        request.pull_events()
        requests.append(request)
    return requests


def floor_row_template() -> str:
    """A request row as the service writes it after a create, as JSON for the floor's bare
    version of the create (times are set there; credits in the column's ten-thousandths)."""
    row = to_row(waiting_for_samples(1, "template")[0])
    for column, value in row.items():
        if isinstance(value, Decimal):
            row[column] = int(value * CREDIT_SCALE)
        elif isinstance(value, datetime):
            row[column] = None
    return json.dumps(row)


async def store(engine: AsyncEngine, requests: list[GenerationRequest]) -> None:
    rows = [to_row(r) for r in requests]
    async with engine.begin() as connection:
        for start in range(0, len(rows), 2000):
            await connection.execute(generation_requests.insert(), rows[start : start + 2000])


SAMPLE_PNG = render_plain("bench", 512, 512)


def samples_callback(
    request: GenerationRequest, signer: CallbackSigner, assets_dir: Path
) -> tuple[str, dict[str, str]]:
    """The signed callback n8n sends once it has uploaded the job's four samples, which are
    put where its upload targets write them on the local store."""
    job = request.jobs[-1]
    for asset_id in job.output_ids:
        path = assets_dir / staging_key(request, asset_id, "png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(SAMPLE_PNG)
    body = json.dumps(
        {
            "request_id": request.id,
            "job_id": job.job_id,
            "samples": [{"asset_id": asset_id} for asset_id in job.output_ids],
            "ai_model_used": "bench-model",
        }
    )
    headers = signer.headers(body)
    headers.pop("content-type")
    return body, {"Content-Type": "application/json", **headers}


async def grow_to(engine: AsyncEngine, total: int, template: GenerationRequest) -> None:
    """Add synthetic requests (other users') until the table holds `total` rows."""
    async with engine.connect() as connection:
        have = int(await connection.scalar(text("SELECT count(*) FROM generation_requests")) or 0)
    missing = total - have
    if missing <= 0:
        return
    row = to_row(template)
    json_columns = {"input_parameters", "sample_asset_infos", "jobs", "final_asset_info"}
    params: dict[str, Any] = {
        k: (json.dumps(v) if k in json_columns else v) for k, v in row.items()
    }
    for credits in ("credits_cost_sample", "credits_cost_final"):  # stored in 1/10,000 credit
        params[credits] = None if row[credits] is None else int(row[credits] * 10_000)
    params["missing"] = missing
    columns = [c for c in row if c not in ("id", "user_id", "created_at", "updated_at")]
    select_list = ", ".join(
        f"CAST(:{c} AS jsonb)" if c in json_columns and row[c] is not None else f":{c}"
        for c in columns
    )
    statement = text(
        "INSERT INTO generation_requests (id, user_id, created_at, updated_at, "
        f"{', '.join(columns)}) "
        f"SELECT gen_random_uuid()::text, 'filler-' || (g % 100000), "
        f"now() - make_interval(secs => g), now() - make_interval(secs => g), {select_list} "
        f"FROM generate_series(1, :missing) AS g"
    )
    async with engine.begin() as connection:
        await connection.execute(statement, params)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE generation_requests"))
