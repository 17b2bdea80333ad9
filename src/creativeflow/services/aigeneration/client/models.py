"""The service's answers as the client reads them (contract §1, §7; the OpenAPI document's
response schemas). The client's own models, so it needs nothing of the server: enums arrive as
plain strings and unknown fields are kept, so a newer service does not break an older client.
tests/unit/test_client_models.py holds every field here to the served document."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class AssetInfoModel(Answer):
    asset_id: str
    url: str  # a signed link: no header needed; it expires at url_expires_at
    url_expires_at: datetime
    resolution: str  # WIDTHxHEIGHT
    format: str  # png | jpeg | webp
    width: int
    height: int
    bytes: int
    sha256: str  # of the file, lowercase hex (also its ETag)
    seed: int | None = None


class RoundRead(Answer):
    round: int
    kind: str  # samples | variation
    source_sample_id: str | None = None
    strength: str | None = None
    seed: int | None = None
    status: str  # charging | dispatched | succeeded | failed | cancelled
    samples: list[AssetInfoModel] = Field(default_factory=list)


class FinalRead(AssetInfoModel):
    sample_id: str
    quality: str  # standard | high
    credits_cost: float


class RequestMetrics(Answer):
    samples_ms: int | None = None
    final_ms: int | None = None
    total_ms: int | None = None


class GenerationRequestRead(Answer):
    id: str
    user_id: str
    project_id: str
    status: str
    input_prompt: str
    style_guidance: str | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    input_parameters: dict[str, Any] = Field(default_factory=dict)
    sample_round: int
    sample_asset_infos: list[AssetInfoModel] = Field(default_factory=list)
    selected_sample_id: str | None = None
    final_asset_info: AssetInfoModel | None = None
    rounds: list[RoundRead] = Field(default_factory=list)
    finals: list[FinalRead] = Field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool | None = None
    credits_cost_sample: float | None = None
    credits_cost_final: float | None = None
    ai_model_used: str | None = None
    created_at: datetime
    updated_at: datetime
    metrics: RequestMetrics = Field(default_factory=RequestMetrics)
    assets_expired_at: datetime | None = None


class BatchRead(Answer):
    items: list[GenerationRequestRead]


class GenerationRequestPage(Answer):
    items: list[GenerationRequestRead]
    next_cursor: str | None = None


class Size(Answer):
    width: int
    height: int


class FormatRead(Answer):
    format: str
    aspect: str
    native: Size | None = None
    sample: Size | None = None
    final_high: Size | None = None


class PricesRead(Answer):
    sample_round: float
    final_standard: float
    final_high: float


class FormatsRead(Answer):
    formats: list[FormatRead]
    prices: dict[str, PricesRead]


class ModelRead(Answer):
    id: str
    name: str
    job_types: list[str]
    tiers: list[str]
    sizes: list[str]


class ModelsRead(Answer):
    models: list[ModelRead]


class CreditsRead(Answer):
    balance: float
    subscription_tier: str
