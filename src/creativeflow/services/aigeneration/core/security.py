"""Bearer JWTs: who the caller is. HS256 with JWT_SECRET, or RS256 with JWT_PUBLIC_KEY."""

from datetime import UTC, datetime, timedelta

import jwt

from .config import Settings


class Unauthenticated(Exception):
    def __init__(self, message: str = "A valid bearer token is required.") -> None:
        super().__init__(message)
        self.message = message


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        if settings.jwt_public_key:
            self._key: str = settings.jwt_public_key
            self._algorithms = [
                "RS256"
            ]  # one family only: no HS256 token checked with a public key
        else:
            self._key = settings.jwt_secret
            self._algorithms = ["HS256"]
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway_seconds

    def user_id(self, token: str) -> str:
        try:
            claims = jwt.decode(
                token,
                self._key,
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
        if not isinstance(subject, str) or not 1 <= len(subject) <= 128:
            raise Unauthenticated("The token has no usable subject.")
        return subject


def create_dev_token(settings: Settings, user_id: str, ttl: timedelta = timedelta(days=7)) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
