from fastapi import APIRouter

from ....domain.formats import (
    CUSTOM_FORMAT,
    FORMAT_PRESETS,
    Dimensions,
    Resolution,
    final_size,
    sample_size,
)
from ....domain.pricing import PriceList, SubscriptionTier
from ...dependencies import ModelsDep, PricesDep
from ..read_schemas import FormatRead, FormatsRead, ModelRead, ModelsRead, PricesRead, Size
from ..responses import errors

router = APIRouter(tags=["formats"])


@router.get("/formats", operation_id="listFormats", response_model=FormatsRead, responses=errors())
async def list_formats(prices: PricesDep) -> FormatsRead:
    formats = [
        FormatRead(
            format=preset.name,
            aspect=preset.aspect,
            native=Size(width=preset.native.width, height=preset.native.height),
            sample=_size(sample_size(preset.native)),
            final_high=_size(final_size(preset.native, Resolution.HIGH)),
        )
        for preset in FORMAT_PRESETS.values()
    ]
    formats.append(
        FormatRead(
            format=CUSTOM_FORMAT, aspect="as given", native=None, sample=None, final_high=None
        )
    )
    return FormatsRead(
        formats=formats,
        prices={str(tier): _prices(prices, tier) for tier in SubscriptionTier},
    )


@router.get("/models", operation_id="listModels", response_model=ModelsRead, responses=errors())
async def list_models(models: ModelsDep) -> ModelsRead:
    """The model table: what each model renders, for which tiers, at which sizes."""
    return ModelsRead(
        models=[
            ModelRead(
                id=info.id,
                name=info.name,
                job_types=[str(t) for t in info.job_types],
                tiers=[str(t) for t in info.tiers],
                sizes=[str(size) for size in info.sizes],
            )
            for info in models.catalog()
        ]
    )


def _size(dimensions: Dimensions) -> Size:
    return Size(width=dimensions.width, height=dimensions.height)


def _prices(prices: PriceList, tier: SubscriptionTier) -> PricesRead:
    return PricesRead(
        sample_round=float(prices.sample_round(tier)),
        final_standard=float(prices.final(tier, Resolution.STANDARD)),
        final_high=float(prices.final(tier, Resolution.HIGH)),
    )
