"""JSON Schemas of what crosses the n8n boundary (contract §2 and §3), generated from the types
the service builds and parses them with. `aigen schemas` writes them to docs/contracts/; a test
fails when the committed files and the code drift apart."""

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from ..application.job_messages import FinalJobMessage, SamplesJobMessage
from .v1.callback_schemas import N8NErrorPayload, N8NFinalResultPayload, N8NSampleResultPayload

DIALECT = "https://json-schema.org/draft/2020-12/schema"
JOB_MESSAGE = TypeAdapter(
    Annotated[SamplesJobMessage | FinalJobMessage, Field(discriminator="job_type")]
)
CALLBACKS: dict[str, type[BaseModel]] = {
    "callback-samples": N8NSampleResultPayload,
    "callback-final": N8NFinalResultPayload,
    "callback-error": N8NErrorPayload,
}


def schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for the job message and the three callback bodies."""
    found: dict[str, dict[str, Any]] = {
        "job-message": {
            "title": "Job message (service → RabbitMQ → n8n)",
            **JOB_MESSAGE.json_schema(),
        }
    }
    for name, model in CALLBACKS.items():
        found[name] = model.model_json_schema(mode="validation")
    return {f"{name}.schema.json": {"$schema": DIALECT, **schema} for name, schema in found.items()}


def rendered() -> dict[str, str]:
    return {
        name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in schemas().items()
    }


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


def stale(folder: Path) -> list[str]:
    """The schema files in `folder` that differ from what the code generates now."""
    return [
        name
        for name, text in rendered().items()
        if not (folder / name).exists() or (folder / name).read_text() != text
    ]
