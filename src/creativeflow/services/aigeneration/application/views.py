"""GenerationRequestRead (contract §1) as plain JSON: what the API answers, what SSE streams
and what webhooks to API users carry."""

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from ..domain.models import GenerationRequest, JobType
from .serialization import parameters_to_json


def request_view(request: GenerationRequest) -> dict[str, Any]:
    def credits(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
        "id": request.id,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "status": str(request.status),
        "input_prompt": request.parameters.prompt,
        "style_guidance": request.parameters.style_guidance,
        "input_parameters": parameters_to_json(request.parameters),
        "sample_round": request.sample_round,
        "sample_asset_infos": [asdict(sample) for sample in request.samples],
        "selected_sample_id": request.selected_sample_id,
        "final_asset_info": asdict(request.final_asset) if request.final_asset else None,
        "error_code": request.error_code,
        "error_message": request.error_message,
        "retryable": request.retryable,
        "credits_cost_sample": credits(request.credits_cost_sample),
        "credits_cost_final": credits(request.credits_cost_final),
        "ai_model_used": request.ai_model_used,
        "created_at": request.created_at.isoformat(),
        "updated_at": request.updated_at.isoformat(),
        "metrics": {
            "samples_ms": request.last_duration_ms(JobType.SAMPLES),
            "final_ms": request.last_duration_ms(JobType.FINAL),
            "total_ms": request.total_ms,
        },
    }
