from decimal import Decimal

import pytest

from creativeflow.services.aigeneration.domain.errors import InvalidValue
from creativeflow.services.aigeneration.domain.formats import (
    FORMAT_PRESETS,
    Dimensions,
    Resolution,
    final_size,
    native_size,
    render_size,
    sample_size,
)
from creativeflow.services.aigeneration.domain.pricing import PriceList, SubscriptionTier

# format -> (native, sample, high final) as contract §1 gives them
EXPECTED = {
    "instagram_post": ((1080, 1080), (512, 512), (3840, 3840)),
    "instagram_story": ((1080, 1920), (288, 512), (2160, 3840)),
    "instagram_reel": ((1080, 1920), (288, 512), (2160, 3840)),
    "facebook_post": ((1200, 630), (512, 272), (3840, 2016)),
    "facebook_ad": ((1080, 1080), (512, 512), (3840, 3840)),
    "linkedin_post": ((1200, 627), (512, 264), (3840, 2006)),
    "linkedin_article": ((1280, 720), (512, 288), (3840, 2160)),
    "twitter_post": ((1600, 900), (512, 288), (3840, 2160)),
    "tiktok": ((1080, 1920), (288, 512), (2160, 3840)),
    "youtube_thumbnail": ((1280, 720), (512, 288), (3840, 2160)),
    "pinterest_pin": ((1000, 1500), (344, 512), (2560, 3840)),
}


def test_every_preset_is_covered() -> None:
    assert set(EXPECTED) == set(FORMAT_PRESETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sizes_of_each_preset(name: str) -> None:
    native, sample, high = (Dimensions(*size) for size in EXPECTED[name])
    assert native_size(name) == native
    assert sample_size(native) == sample
    assert sample.width % 8 == 0 and sample.height % 8 == 0
    assert final_size(native, Resolution.STANDARD) == native
    assert final_size(native, Resolution.HIGH) == high


@pytest.mark.parametrize(
    ("custom", "sample", "high"),
    [
        ((64, 64), (512, 512), (3840, 3840)),
        ((4096, 1024), (512, 128), (4096, 1024)),  # larger than 4K already: kept
        ((100, 3000), (16, 512), (128, 3840)),
    ],
)
def test_custom_sizes(
    custom: tuple[int, int], sample: tuple[int, int], high: tuple[int, int]
) -> None:
    native = native_size("custom", Dimensions(*custom))
    assert sample_size(native) == Dimensions(*sample)
    assert final_size(native, Resolution.HIGH) == Dimensions(*high)


@pytest.mark.parametrize(
    ("format_name", "custom", "field"),
    [
        ("custom", None, "custom_dimensions"),
        ("custom", Dimensions(63, 500), "custom_dimensions"),
        ("tiktok", Dimensions(500, 500), "custom_dimensions"),
        ("myspace", None, "format"),
    ],
)
def test_bad_format_choices_name_the_field(
    format_name: str, custom: Dimensions | None, field: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        native_size(format_name, custom)
    assert error.value.field == field


PRICES = {
    # tier: (sample round, final standard, final high)
    "free": ("0.25", "1", "2"),
    "pro": ("0", "0", "2"),
    "team": ("0", "0", "2"),
    "enterprise": ("0", "0", "2"),
}


@pytest.mark.parametrize("tier", sorted(PRICES))
def test_prices_per_tier(tier: str) -> None:
    prices, parsed = PriceList(), SubscriptionTier.parse(tier)
    sample, standard, high = (Decimal(p) for p in PRICES[tier])
    assert prices.sample_round(parsed) == sample
    assert prices.final(parsed, Resolution.STANDARD) == standard
    assert prices.final(parsed, Resolution.HIGH) == high


@pytest.mark.parametrize("unknown", [None, "", "platinum", "FREE "])
def test_an_unknown_tier_is_priced_as_free(unknown: str | None) -> None:
    assert SubscriptionTier.parse(unknown) is SubscriptionTier.FREE


DALL_E_2 = [Dimensions(256, 256), Dimensions(512, 512), Dimensions(1024, 1024)]
GPT_IMAGE = [Dimensions(1024, 1024), Dimensions(1536, 1024), Dimensions(1024, 1536)]


@pytest.mark.parametrize(
    ("output", "sizes", "asked"),
    [
        (Dimensions(512, 512), DALL_E_2, Dimensions(512, 512)),  # the smallest that covers
        (Dimensions(300, 300), DALL_E_2, Dimensions(512, 512)),
        (Dimensions(3840, 3840), DALL_E_2, Dimensions(1024, 1024)),  # none covers: the largest
        (Dimensions(1080, 1920), GPT_IMAGE, Dimensions(1024, 1536)),  # nearest in aspect
        (Dimensions(1200, 630), GPT_IMAGE, Dimensions(1536, 1024)),
        (Dimensions(1080, 1920), [], Dimensions(1080, 1920)),  # a model that takes any size
    ],
)
def test_a_model_is_asked_for_the_supported_size_nearest_in_aspect(
    output: Dimensions, sizes: list[Dimensions], asked: Dimensions
) -> None:
    assert render_size(output, sizes) == asked
