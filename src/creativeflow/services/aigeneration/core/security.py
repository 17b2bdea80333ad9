"""Bearer JWTs: who the caller is. HS256 with JWT_SECRET, RS256 with JWT_PUBLIC_KEY, or RS256
with keys from a JWKS URL (cached; fetched again when a token names an unknown `kid`).

Exactly one algorithm family is accepted per configuration, so `alg: none` and an HS256
token signed with the RS256 public key as its secret are both refused."""

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import httpx
import jwt

from ..domain.text import text_problem
from .config import SecuritySettings

_VERIFIED_TOKENS = 10_000  # answers kept, the oldest dropped first
_VERIFIED_SECONDS = 300.0  # the longest an answer is kept, however late the token expires


class Unauthenticated(Exception):
    def __init__(self, message: str = "A valid bearer token is required.") -> None:
        super().__init__(message)
        self.message = message


class JwksKeys:
    def __init__(self, url: str, http: httpx.AsyncClient, min_refresh_seconds: float) -> None:
        self._url = url
        self._http = http
        # tokens with made-up kids must not make us hammer the JWKS endpoint
        self._min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            stale = time.monotonic() - self._fetched_at >= self._min_refresh_seconds
            if kid not in self._keys and stale:
                await self._fetch()
        if kid not in self._keys:
            raise Unauthenticated("The token is signed with an unknown key.")
        return self._keys[kid]

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            response = await self._http.get(self._url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise Unauthenticated(f"The signing keys could not be loaded ({exc}).") from None
        self._keys = {key.key_id: key.key for key in keys if key.key_id}


class TokenVerifier:
    def __init__(self, settings: SecuritySettings, http: httpx.AsyncClient | None = None) -> None:
        self._jwks: JwksKeys | None = None
        if settings.jwt_jwks_url:
            self._jwks = JwksKeys(
                settings.jwt_jwks_url,
                http or httpx.AsyncClient(timeout=5),
                settings.jwt_jwks_min_refresh_seconds,
            )
            self._algorithms = ["RS256"]
            self._key: Any = None
        elif settings.jwt_public_key:
            self._key = settings.jwt_public_key
            self._algorithms = ["RS256"]
        else:
            self._key = settings.jwt_secret
            self._algorithms = ["HS256"]
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway_seconds
        self._roles_claim = settings.jwt_roles_claim
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (answer, valid until)

    async def user_id(self, token: str) -> str:
        return (await self.principal(token)).user_id

    async def principal(self, token: str) -> "Principal":
        # A token is verified once and its answer kept until it expires (at most a few minutes,
        # so a key taken out of the JWKS stops counting soon): a client sends the same token with
        # every call, and checking its signature and claims was 5 % of a GET's CPU.
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires_at = await self._verify(token)
        if len(self._verified) >= _VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (principal, min(expires_at, time.time() + _VERIFIED_SECONDS))
        return principal

    async def _verify(self, token: str) -> tuple["Principal", float]:
        key = self._key
        if self._jwks is not None:
            try:
                kid = jwt.get_unverified_header(token).get("kid")
            except jwt.PyJWTError:
                raise Unauthenticated("The token is not valid.") from None
            key = await self._jwks.key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The token is not valid.") from None
        subject = claims.get("sub")
        if not _usable_subject(subject):
            raise Unauthenticated("The token has no usable subject.")
        principal = Principal(subject, _roles(claims.get(self._roles_claim)))
        return principal, float(claims["exp"]) + self._leeway


# A user id is one opaque value: it becomes a path segment of outgoing URLs (the credit
# service's `/users/{user_id}/credits`), where `.` and `..` are path structure whatever the
# encoding, and a slash or backslash would be one too if a client forgot to encode it.
_PATH_SIGNIFICANT = frozenset({".", ".."})
_PATH_CHARACTERS = re.compile(r"[/\\?#]")


def _usable_subject(subject: object) -> TypeGuard[str]:
    return (
        isinstance(subject, str)
        and 1 <= len(subject) <= 128
        and text_problem(subject) is None
        and subject not in _PATH_SIGNIFICANT
        and _PATH_CHARACTERS.search(subject) is None
    )


@dataclass(frozen=True)
class Principal:
    user_id: str
    roles: frozenset[str]


def _roles(value: object) -> frozenset[str]:
    """The roles claim: a list of names or one string of names separated by ASCII spaces
    (OAuth's `scope` style, RFC 6749 §3.3); anything else is no role at all. str.split()
    would also split on no-break and ideographic spaces, making "viewer\u00a0admin" an admin."""
    if isinstance(value, str):
        return frozenset(name for name in value.split(" ") if name)
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def create_dev_token(
    settings: SecuritySettings,
    user_id: str,
    ttl: timedelta = timedelta(days=7),
    roles: Sequence[str] = (),
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if roles:
        claims[settings.jwt_roles_claim] = list(roles)
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
