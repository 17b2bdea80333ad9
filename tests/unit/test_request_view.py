"""The API answers GET and the list from `request_view` as it is, without a pass through
GenerationRequestRead: the view must be exactly what the model would write, field by field,
for a request in every status and with every kind of round and final."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from creativeflow.services.aigeneration.api.v1.read_schemas import GenerationRequestRead
from creativeflow.services.aigeneration.application.assets import AssetLinks
from creativeflow.services.aigeneration.application.read_side import request_view
from creativeflow.services.aigeneration.domain.formats import Resolution
from creativeflow.services.aigeneration.domain.models import GenerationRequest, Strength
from tests import builders
from tests.fakes import FakeAssetStorage, FakeClock


def varied_with_two_finals() -> GenerationRequest:
    request = builders.completed()
    request.vary("job-1-1", Strength.SUBTLE, "bluer", "job-3", Decimal("0.25"), builders.T0)
    request.credits_charged(builders.T0)
    request.job_dispatched(builders.T0, builders.T0 + timedelta(minutes=2))
    request.apply_samples("job-3", builders.samples("job-3"), "model-a", builders.T0)
    request.select_sample("job-3-0", Resolution.HIGH, "png", "job-4", Decimal(2), builders.T0)
    request.credits_charged(builders.T0)
    request.job_dispatched(builders.T0, builders.T0 + timedelta(minutes=10))
    request.apply_final("job-4", builders.final_asset("3840x3840", "job-4"), "m", builders.T0)
    return request


REQUESTS = {**builders.BUILDERS, "varied_with_two_finals": varied_with_two_finals}


@pytest.mark.parametrize("build", REQUESTS.values(), ids=list(REQUESTS))
def test_the_view_is_what_the_response_model_writes(build: Any) -> None:
    links = AssetLinks(FakeAssetStorage(), FakeClock(builders.T0), timedelta(hours=1))
    view = request_view(build(), links)
    written = GenerationRequestRead.model_validate(view).model_dump(mode="json", by_alias=True)
    assert view == written
