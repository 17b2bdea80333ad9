"""The verifier keeps a verified token's answer, never longer than the token is valid."""

import asyncio
from datetime import timedelta

import pytest

from creativeflow.services.aigeneration.core import security
from creativeflow.services.aigeneration.core.config import Settings
from creativeflow.services.aigeneration.core.security import (
    TokenVerifier,
    Unauthenticated,
    create_dev_token,
)


def settings() -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, JWT_SECRET="a-test-secret-of-thirty-two-bytes!!", JWT_LEEWAY_SECONDS=0
    )


async def test_a_token_is_answered_again_until_it_expires() -> None:
    verifier = TokenVerifier(settings())
    token = create_dev_token(settings(), "ana", ttl=timedelta(seconds=1))
    assert (await verifier.principal(token)).user_id == "ana"
    assert (await verifier.principal(token)).user_id == "ana"  # the kept answer
    await asyncio.sleep(1.2)
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.principal(token)


async def test_a_refused_token_is_refused_every_time() -> None:
    verifier = TokenVerifier(settings())
    forged = create_dev_token(settings(), "ana")[:-2] + "xx"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.principal(forged)


async def test_the_kept_answers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_VERIFIED_TOKENS", 2)
    verifier = TokenVerifier(settings())
    tokens = [create_dev_token(settings(), f"user-{n}") for n in range(3)]
    for token in tokens:
        await verifier.principal(token)
    assert len(verifier._verified) == 2
    assert tokens[0] not in verifier._verified  # the oldest went first
