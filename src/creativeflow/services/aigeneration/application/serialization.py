"""Plain-JSON forms of domain values, shared by the table mapping and the wire schemas."""

from dataclasses import fields
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
            **{k: list(v) for k, v in plain(params.brand_elements).items()},
            "logo_asset_ids": [i.asset_id for i in params.input_images if i.purpose == "logo"],
        },
        "input_asset_urls": list(params.input_asset_urls),
        "input_asset_ids": [i.asset_id for i in params.input_images if i.purpose == "input"],
        "webhook_url": params.webhook_url,
        "webhook_events": list(params.webhook_events),
        "model": params.model,
    }


def plain(value: Any) -> dict[str, Any]:
    """A flat dataclass's fields as a dict. `dataclasses.asdict` deep-copies field by field,
    several times slower, and was a tenth of a list page's CPU (docs/PERFORMANCE.md)."""
    return {field.name: getattr(value, field.name) for field in fields(value)}
