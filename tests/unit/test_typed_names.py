"""Names that cross rooms are types: the wire's enums are the domain's values, every outbox
destination has its handler, and every error the service answers with has its code."""

from creativeflow.services.aigeneration.api.v1.schemas import OutputFormat, RoundStatus
from creativeflow.services.aigeneration.application.deliveries import Deliveries
from creativeflow.services.aigeneration.application.ports import Destination
from creativeflow.services.aigeneration.core.error_handlers import _HTTP_CODES, _STATUS
from creativeflow.services.aigeneration.domain.errors import ErrorCode
from creativeflow.services.aigeneration.domain.models import JobState
from creativeflow.services.aigeneration.domain.models.asset_info import MEDIA_TYPES, ImageFormat

from ..fakes import FakeAssetStorage, FakeCreditGateway


def test_the_wires_enums_are_the_domains() -> None:
    assert [f.value for f in OutputFormat] == [f.value for f in ImageFormat]
    assert [s.value for s in RoundStatus] == [s.value for s in JobState]
    assert set(MEDIA_TYPES) == set(ImageFormat)


def test_every_destination_has_its_handler() -> None:
    class Anything:
        async def deliver(self, *args: object) -> None: ...

        async def dispatch(self, *args: object) -> None: ...

        async def publish(self, *args: object) -> None: ...

        async def notify(self, *args: object) -> None: ...

    anything = Anything()
    handlers = Deliveries(
        anything, anything, anything, FakeCreditGateway(), anything, FakeAssetStorage()
    ).handlers()
    assert set(handlers) == set(Destination)


def test_error_codes_come_from_one_list() -> None:
    codes = {code for _, code in _STATUS.values()} | set(_HTTP_CODES.values())
    assert all(isinstance(code, ErrorCode) for code in codes)
