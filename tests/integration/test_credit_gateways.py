"""The credit service client and the Odoo adapter against real stub servers on 127.0.0.1."""

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from creativeflow.services.aigeneration.application.errors import (
    CreditsDeclined,
    DependencyUnavailable,
)
from creativeflow.services.aigeneration.application.ports import Debit, Refund
from creativeflow.services.aigeneration.domain.pricing import SubscriptionTier
from creativeflow.services.aigeneration.infrastructure.clients.credit_service_client import (
    HttpCreditServiceClient,
)
from creativeflow.services.aigeneration.infrastructure.clients.odoo_adapter_client import (
    OdooCreditGateway,
    OdooSettings,
)

from ..stub_servers import CreditServiceStub, OdooStub

DEBIT = Debit("alice", Decimal("2"), "req-1", "generation.final", "req-1:final:1")
REFUND = Refund("alice", Decimal("2"), "req-1", "model_error", "req-1:final:1:refund")


@pytest.fixture
async def credit_stub() -> AsyncIterator[CreditServiceStub]:
    stub = CreditServiceStub()
    await stub.start()
    yield stub
    await stub.stop()


@pytest.fixture
async def odoo_stub() -> AsyncIterator[OdooStub]:
    stub = OdooStub()
    await stub.start()
    yield stub
    await stub.stop()


def odoo(stub: OdooStub, password: str = OdooStub.PASSWORD) -> OdooCreditGateway:
    settings = OdooSettings(stub.url, OdooStub.DB, OdooStub.USER, password)
    return OdooCreditGateway(httpx.AsyncClient(timeout=httpx.Timeout(1.0)), settings)


def http_client(stub: CreditServiceStub) -> HttpCreditServiceClient:
    return HttpCreditServiceClient(httpx.AsyncClient(timeout=httpx.Timeout(1.0)), stub.url)


async def test_the_http_client_reads_debits_and_refunds(credit_stub: CreditServiceStub) -> None:
    credit_stub.book.tiers["alice"] = "team"
    client = http_client(credit_stub)
    account = await client.get_account("alice")
    assert (account.balance, account.tier) == (Decimal(10), SubscriptionTier.TEAM)
    await client.debit(DEBIT)
    await client.debit(DEBIT)  # the same key moves money once
    assert credit_stub.book.balance("alice") == Decimal(8)
    await client.refund(REFUND)
    await client.refund(REFUND)
    assert credit_stub.book.balance("alice") == Decimal(10)
    assert [c[1]["idempotency_key"] for c in credit_stub.calls if c[0] == "debit"] == [
        DEBIT.idempotency_key
    ] * 2
    await client.aclose()


async def test_the_http_client_reports_a_short_balance(credit_stub: CreditServiceStub) -> None:
    credit_stub.book.balances["alice"] = Decimal(1)
    client = http_client(credit_stub)
    with pytest.raises(CreditsDeclined):
        await client.debit(DEBIT)
    await client.aclose()


async def test_the_http_client_tells_unreachable_from_maybe_applied(
    credit_stub: CreditServiceStub,
) -> None:
    client = http_client(credit_stub)
    credit_stub.behaviour.status = 503
    with pytest.raises(DependencyUnavailable) as answered:
        await client.debit(DEBIT)
    assert answered.value.maybe_applied
    credit_stub.behaviour.status, credit_stub.behaviour.delay = None, 1.5
    with pytest.raises(DependencyUnavailable) as slow:
        await client.debit(DEBIT)
    assert slow.value.maybe_applied
    credit_stub.behaviour.delay = 0
    await credit_stub.stop()
    with pytest.raises(DependencyUnavailable) as down:
        await client.get_account("alice")
    assert not down.value.maybe_applied
    await credit_stub.start()
    await client.aclose()


async def test_odoo_logs_in_once_then_reads_debits_and_refunds(odoo_stub: OdooStub) -> None:
    odoo_stub.book.tiers["alice"] = "pro"
    gateway = odoo(odoo_stub)
    account = await gateway.get_account("alice")
    assert (account.balance, account.tier) == (Decimal(10), SubscriptionTier.PRO)
    await gateway.debit(DEBIT)
    await gateway.debit(DEBIT)
    await gateway.refund(REFUND)
    assert odoo_stub.book.balance("alice") == Decimal(10)
    assert odoo_stub.book.total("debit") == Decimal(2)
    methods = [name for name, _ in odoo_stub.calls]
    assert methods.count("common.login") == 1
    executed = [args[4] for name, args in odoo_stub.calls if name == "object.execute_kw"]
    assert executed == ["get_balance", "debit_credits", "debit_credits", "refund_credits"]
    await gateway.aclose()


async def test_odoo_insufficient_credits_is_a_declined_debit(odoo_stub: OdooStub) -> None:
    odoo_stub.book.balances["alice"] = Decimal(1)
    gateway = odoo(odoo_stub)
    with pytest.raises(CreditsDeclined):
        await gateway.debit(DEBIT)
    assert odoo_stub.book.balance("alice") == Decimal(1)
    await gateway.aclose()


async def test_odoo_refused_login_and_server_errors_are_unavailable(odoo_stub: OdooStub) -> None:
    refused = odoo(odoo_stub, password="wrong")
    with pytest.raises(DependencyUnavailable, match="login was refused"):
        await refused.get_account("alice")
    await refused.aclose()

    gateway = odoo(odoo_stub)
    odoo_stub.behaviour.status = 500
    with pytest.raises(DependencyUnavailable) as error:
        await gateway.debit(DEBIT)
    assert error.value.maybe_applied
    odoo_stub.behaviour.status = None
    await gateway.debit(DEBIT)
    assert odoo_stub.book.total("debit") == Decimal(2)
    await gateway.aclose()


async def test_odoo_errors_other_than_credits_are_unavailable_not_declined(
    odoo_stub: OdooStub,
) -> None:
    settings = OdooSettings(
        odoo_stub.url, OdooStub.DB, OdooStub.USER, OdooStub.PASSWORD, debit_method="no_such"
    )
    gateway = OdooCreditGateway(httpx.AsyncClient(), settings)
    with pytest.raises(DependencyUnavailable, match="no method no_such"):
        await gateway.debit(DEBIT)
    await gateway.aclose()
