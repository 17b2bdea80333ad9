"""Plain-JSON forms of domain values, shared by the table mapping and the wire schemas."""

from dataclasses import asdict
from typing import Any

from ..domain.models import GenerationParameters


def parameters_to_json(params: GenerationParameters) -> dict[str, Any]:
    """The `input_parameters` of GenerationRequestRead: everything but prompt and style."""
    return {
        "format": params.format,
        "width": params.dimensions.width,
        "height": params.dimensions.height,
        "tone": params.tone,
        "industry": params.industry,
        "template_id": params.template_id,
        "locale": params.locale,
        "brand_elements": {
            **{k: list(v) for k, v in asdict(params.brand_elements).items()},
            "logo_asset_ids": [i.asset_id for i in params.input_images if i.purpose == "logo"],
        },
        "input_asset_urls": list(params.input_asset_urls),
        "input_asset_ids": [i.asset_id for i in params.input_images if i.purpose == "input"],
        "webhook_url": params.webhook_url,
        "webhook_events": list(params.webhook_events),
        "model": params.model,
    }
