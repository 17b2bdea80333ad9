"""A typed Python client for the AI Generation Orchestration Service.

from creativeflow.services.aigeneration.client import GenerationClient

with GenerationClient("http://127.0.0.1:8000", token) as client:
    request = client.create("A red fox in a neon city", "instagram_post")
    request = client.wait_for(request.id, {"awaiting_selection"})
    client.select_sample(request.id, request.sample_asset_infos[0].asset_id, resolution="high")
    final = client.wait_for(request.id, {"completed"})
"""

from ._common import GenerationApiError, WebhookEvent
from .async_client import AsyncGenerationClient
from .models import AssetInfoModel, FormatsRead, GenerationRequestRead
from .sync_client import GenerationClient
from .webhooks import verify_webhook

__all__ = [
    "AssetInfoModel",
    "AsyncGenerationClient",
    "FormatsRead",
    "GenerationApiError",
    "GenerationClient",
    "GenerationRequestRead",
    "WebhookEvent",
    "verify_webhook",
]
