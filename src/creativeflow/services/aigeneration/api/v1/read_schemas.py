"""Wire models of what the service answers (contract §1, §6, §7): a request as
GenerationRequestRead, its images, pages, formats, prices, models and credits. The read side
(application/read_side.py) builds the JSON; a test holds it equal to these models."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ...domain.formats import Resolution
from ...domain.models import GenerationStatus, JobType, Strength
from ...domain.pricing import SubscriptionTier
from .schemas import (
    FormatName,
    FromValue,
    OutputFormat,
    RoundKind,
    RoundStatus,
)


class AssetInfoModel(BaseModel):
    """An image the service holds, with a link a browser can load until `url_expires_at`."""

    asset_id: str = Field(description="The asset's id")
    url: str = Field(description="A signed link to the bytes; no header needed; expires")
    url_expires_at: datetime = Field(description="When `url` stops working")
    resolution: str = Field(description="`WIDTHxHEIGHT`", examples=["512x512"])
    format: Annotated[OutputFormat, FromValue, Field(description="The file format")]
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    bytes: int = Field(description="Size of the file")
    sha256: str = Field(description="SHA-256 of the file, lowercase hex (also its ETag)")
    seed: int | None = Field(default=None, description="The seed it was rendered with")


class RequestMetrics(BaseModel):
    samples_ms: int | None = Field(
        default=None, description="Newest samples job: dispatch to result"
    )
    final_ms: int | None = Field(default=None, description="Newest final job: dispatch to result")
    total_ms: int | None = Field(
        default=None, description="Creation to the first `completed` (or the end)"
    )


class RoundRead(BaseModel):
    round: int = Field(description="1 for the first round, then one more for each")
    kind: Annotated[
        RoundKind, FromValue, Field(description="From the prompt, or a variation of one sample")
    ]
    source_sample_id: str | None = Field(description="A variation's sample")
    strength: Strength | None = Field(description="A variation's strength")
    seed: int | None = Field(description="The round's seed (a variation's: its sample's)")
    status: Annotated[RoundStatus, FromValue, Field(description="Where the round's job is")]
    samples: list[AssetInfoModel] = Field(description="What it delivered (empty until then)")


class FinalRead(AssetInfoModel):
    sample_id: str = Field(description="The sample it was made from")
    quality: Annotated[
        Resolution,
        FromValue,
        Field(description="The selection's `resolution`: `standard` or `high`"),
    ]
    credits_cost: float = Field(description="What this final cost")


class GenerationRequestRead(BaseModel):
    """A generation request: its status, every round and final, costs and timings."""

    # the service always sends every field: the document says so, defaults notwithstanding
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str = Field(description="The request's id")
    user_id: str = Field(description="The owner (the token's `sub`)")
    project_id: str = Field(description="The caller's project")
    status: Annotated[
        GenerationStatus, FromValue, Field(description="Where the request is (contract §1, §7)")
    ]
    input_prompt: str = Field(description="The prompt (empty once deleted)")
    style_guidance: str | None = Field(description="Style notes")
    # fields of revision 1.1 have defaults: a client reads a 1.0 body (an old webhook) too
    seed: int | None = Field(default=None, description="The first round's seed")
    negative_prompt: str | None = Field(default=None, description="What the images must not show")
    input_parameters: dict[str, Any] = Field(
        description="Everything else asked for: format, width, height, tone, brand, …"
    )
    sample_round: int = Field(description="The newest round's number")
    sample_asset_infos: list[AssetInfoModel] = Field(
        description="The newest round that delivered samples"
    )
    selected_sample_id: str | None = Field(description="The sample of the newest final")
    final_asset_info: AssetInfoModel | None = Field(description="The newest final")
    rounds: list[RoundRead] = Field(default_factory=list, description="Every round, oldest first")
    finals: list[FinalRead] = Field(default_factory=list, description="Every final, oldest first")
    error_code: str | None = Field(description="Why the last step failed")
    error_message: str | None = Field(description="The failure, for a person")
    retryable: bool | None = Field(description="Whether trying again may succeed")
    credits_cost_sample: float | None = Field(description="The newest round's price")
    credits_cost_final: float | None = Field(description="The newest final's price")
    ai_model_used: str | None = Field(description="The model of the newest result")
    created_at: datetime = Field(description="When it was created")
    updated_at: datetime = Field(description="When it last changed")
    metrics: RequestMetrics = Field(description="Timings, as Replicate's `predict_time`")
    assets_expired_at: datetime | None = Field(
        default=None,
        description="When its images were deleted for ASSET_RETENTION_DAYS (null: kept)",
    )


class BatchRead(BaseModel):
    items: list[GenerationRequestRead] = Field(description="The requests, in the batch's order")


class GenerationRequestPage(BaseModel):
    items: list[GenerationRequestRead] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class Size(BaseModel):
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")


class FormatRead(BaseModel):
    format: Annotated[FormatName, FromValue, Field(description="The preset")]
    aspect: str = Field(description="Width to height", examples=["9:16"])
    native: Size | None = Field(description="The standard final's size (null for custom)")
    sample: Size | None = Field(description="A sample's size (null for custom)")
    final_high: Size | None = Field(description="The `high` final's size (null for custom)")


class PricesRead(BaseModel):
    sample_round: float = Field(description="A round of 4 samples (also each regeneration)")
    final_standard: float = Field(description="A `standard` final")
    final_high: float = Field(description="A `high` (4K) final")


class ModelRead(BaseModel):
    id: str = Field(description="Pass as `model` on create", examples=["sdxl-turbo"])
    name: str = Field(description="For people", examples=["SDXL Turbo"])
    job_types: list[JobType] = Field(description="What it renders: `samples`, `final` or both")
    tiers: list[SubscriptionTier] = Field(description="Who may choose it; empty: every tier")
    sizes: list[str] = Field(description="`WxH` sizes it renders; empty: any")


class ModelsRead(BaseModel):
    models: list[ModelRead] = Field(description="The model table")


class CreditsRead(BaseModel):
    balance: float = Field(description="Credits the caller can spend now")
    subscription_tier: Annotated[
        SubscriptionTier, FromValue, Field(description="The caller's tier")
    ]


class FormatsRead(BaseModel):
    formats: list[FormatRead] = Field(description="Every preset, then `custom`")
    prices: dict[str, PricesRead] = Field(description="Prices by subscription tier")
