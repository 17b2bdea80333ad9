"""Wire models of n8n's callbacks (contract §3, §6): the images a job delivered, by the output
ids it uploaded to (or, v1, by URL), or the error it met."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ...domain.models.asset_info import MAX_SEED
from .schemas import (
    AssetId,
    FromValue,
    HttpUrl,
    OutputFormat,
    SingleLine,
    WireModel,
)


class CallbackOutcomeName(StrEnum):
    """`applied`; `duplicate`: this result was applied before; `ignored`: the job is no longer
    current (regenerated, cancelled or timed out)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


# JSON brings strings: an enum field takes its value (the input models are otherwise strict).


class ReportedAssetModel(WireModel):
    """An image n8n uploaded to one of the job's `outputs` (schema_version 2)."""

    model_config = ConfigDict(extra="forbid")

    asset_id: AssetId = Field(description="An `outputs[].asset_id` of the job")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="The seed the model used for it"
    )


class UrlAssetModel(WireModel):
    """v1: an image n8n reports by URL; the service downloads and stores it (deprecated)."""

    model_config = ConfigDict(extra="forbid")

    asset_id: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine] = Field(
        description="n8n's own id of the image (replaced by an output id of the job)"
    )
    url: HttpUrl = Field(description="Where to download the image (≤ 30 s, ≤ MAX_ASSET_BYTES)")
    resolution: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")] = (
        Field(description="`WIDTHxHEIGHT` as n8n reports it (checked against the file)")
    )
    format: Annotated[OutputFormat, FromValue, Field(description="The file format n8n reports")] = (
        OutputFormat.PNG
    )
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="The seed the model used for it"
    )


ReportedImageModel = ReportedAssetModel | UrlAssetModel


# --- n8n callbacks (contract §3). Extra fields are ignored: n8n may add its own. -------------


class CallbackModel(WireModel):
    model_config = ConfigDict(extra="ignore")

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="The job's `request_id`"
    )
    job_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="The job's `job_id`"
    )


class N8NSampleResultPayload(CallbackModel):
    samples: list[ReportedImageModel] = Field(
        min_length=1, max_length=4, description="The samples, each an output of the job"
    )
    ai_model_used: Annotated[str, StringConstraints(max_length=128), SingleLine] | None = Field(
        default=None, description="The model that rendered them"
    )
    processing_time_ms: int | None = Field(default=None, ge=0, description="n8n's own timing")


class N8NFinalResultPayload(CallbackModel):
    asset: ReportedImageModel = Field(description="The final, the job's one output")
    ai_model_used: Annotated[str, StringConstraints(max_length=128), SingleLine] | None = Field(
        default=None, description="The model that rendered it"
    )
    processing_time_ms: int | None = Field(default=None, ge=0, description="n8n's own timing")


class N8NErrorPayload(CallbackModel):
    error_code: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="`content_policy_violation` (not refunded), `model_error`, …"
    )
    error_message: Annotated[str, StringConstraints(max_length=2000)] = Field(
        default="", description="The failure, for a person"
    )
    retryable: bool = Field(default=True, description="Whether trying again may succeed")
    details: dict[str, Any] = Field(default_factory=dict, description="Anything else n8n knows")


class CallbackResult(BaseModel):
    result: Annotated[CallbackOutcomeName, FromValue, Field(description="What the callback did")]
