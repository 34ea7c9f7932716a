"""Bearer token verification: JWTs signed with asymmetric keys from a JWKS file or URL.

`JwtVerifier` is an MCP SDK `TokenVerifier`; it also serves stdio servers, whose credential comes
from the environment (`verify_principal`). The `Principal` comes from the verified claims and nowhere
else. A refusal is a `TokenRefused`: its `message` is for the operator (stdio, logs), its `reason` is
one of a fixed set, safe to tell an HTTP caller (`description`), since it echoes nothing of the token.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken
from pydantic import Field, ValidationError

from schemas import Claims, Principal, Unauthenticated, Unavailable

logger = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""The only algorithms a deskhand server accepts. `none` and every HMAC algorithm are refused."""

CLOCK_SKEW_SECONDS: Final = 30

NUMERIC_DATE_CLAIMS: Final = ("exp", "nbf", "iat")
"""Claims that are RFC 7519 NumericDates: JSON numbers, never strings or booleans."""

RefusalReason = Literal[
    "missing",
    "malformed",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "bad_signature",
    "unknown_key",
    "algorithm_refused",
    "claims_malformed",
    "wrong_tenant",
]

REFUSAL_DESCRIPTIONS: Final[dict[RefusalReason, str]] = {
    "missing": "no bearer token was sent",
    "malformed": "the token is not a well-formed JWT",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "wrong_audience": "the token was issued for another resource",
    "wrong_issuer": "the token was not issued by the trusted issuer",
    "bad_signature": "the token signature does not verify",
    "unknown_key": "the token was signed with an unknown key",
    "algorithm_refused": "the token signing algorithm is not accepted",
    "claims_malformed": "the token claims are missing or malformed",
    "wrong_tenant": "this server serves another tenant",
}
"""What a caller is told for each reason: fixed text, never a value taken from the token."""


class TokenRefused(Unauthenticated):
    """A token this server does not accept, with a `reason` from a fixed set."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason: RefusalReason = reason

    @property
    def description(self) -> str:
        """Why, in words that are safe to send back to whoever sent the token."""
        return REFUSAL_DESCRIPTIONS[self.reason]


def _refusal(exc: jwt.PyJWTError) -> TokenRefused:
    """The reason behind a PyJWT refusal (the most specific classes first: several derive from others)."""
    reason: RefusalReason
    if isinstance(exc, jwt.ExpiredSignatureError):
        reason = "expired"
    elif isinstance(exc, jwt.ImmatureSignatureError):
        reason = "not_yet_valid"
    elif isinstance(exc, jwt.InvalidAudienceError):
        reason = "wrong_audience"
    elif isinstance(exc, jwt.InvalidIssuerError):
        reason = "wrong_issuer"
    elif isinstance(exc, jwt.InvalidSignatureError):
        reason = "bad_signature"
    elif isinstance(exc, jwt.InvalidAlgorithmError):
        reason = "algorithm_refused"
    elif isinstance(
        exc,
        jwt.MissingRequiredClaimError
        | jwt.InvalidIssuedAtError
        | jwt.exceptions.InvalidSubjectError
        | jwt.exceptions.InvalidJTIError,
    ):
        reason = "claims_malformed"
    elif isinstance(exc, jwt.DecodeError) and "claim" in str(exc):
        reason = "claims_malformed"  # PyJWT reports a NumericDate that is no integer as a DecodeError
    else:
        reason = "malformed"
    return TokenRefused(reason, f"token rejected: {exc}")


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    """Refuse `exp`, `nbf` or `iat` that is not a finite JSON number (PyJWT accepts numeric strings)."""
    for name in NUMERIC_DATE_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TokenRefused("claims_malformed", f"token claim {name!r} must be a number (an RFC 7519 NumericDate)")


class KeySet:
    """The issuer's public keys by `kid`, each pinned to the one algorithm its JWK names."""

    def __init__(self, jwks: dict[str, Any], *, source: str) -> None:
        self.source = source
        self._keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks.get("keys", []):
            alg = entry.get("alg")
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"{source}: key {entry.get('kid')!r} has alg {alg!r}; expected one of "
                    f"{sorted(ASYMMETRIC_ALGORITHMS)}"
                )
            if "d" in entry:
                raise ValueError(f"{source}: key {entry.get('kid')!r} is a private key; publish public keys only")
            self._keys[str(entry.get("kid", ""))] = jwt.PyJWK(entry, algorithm=alg)
        if not self._keys:
            raise ValueError(f'{source}: no keys found (expected {{"keys": [...]}})')

    @classmethod
    def from_file(cls, path: Path) -> KeySet:
        try:
            return cls(json.loads(path.read_text(encoding="utf-8")), source=str(path))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the JWKS: {exc}") from exc

    def get(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid or "")

    def __len__(self) -> int:
        return len(self._keys)


class JwksUrl:
    """A JWKS fetched from a URL, refetched at most once a minute when an unknown `kid` appears.

    A fetch that fails is `Unavailable` (not a refused token); while no keys could be fetched yet,
    every lookup is, and the fetch is tried again after `retry_seconds`.
    """

    def __init__(self, url: str, *, min_refresh_seconds: float = 60.0, retry_seconds: float = 5.0) -> None:
        self.url = url
        self._min_refresh = min_refresh_seconds
        self._retry = retry_seconds
        self._keys: KeySet | None = None
        self._fetched_at = -math.inf
        self._lock = anyio.Lock()

    async def get(self, kid: str | None) -> jwt.PyJWK | None:
        key = self._keys.get(kid) if self._keys else None
        if key is None and time.monotonic() - self._fetched_at >= self._min_refresh:
            async with self._lock:
                if time.monotonic() - self._fetched_at >= self._min_refresh:
                    self._fetched_at = time.monotonic()
                    try:
                        async with httpx2.AsyncClient(timeout=5.0) as client:
                            response = await client.get(self.url)
                            response.raise_for_status()
                            self._keys = KeySet(response.json(), source=self.url)
                    except (httpx2.HTTPError, ValueError) as exc:
                        self._fetched_at += self._retry - self._min_refresh  # try again sooner than a refresh
                        raise Unavailable(
                            f"cannot fetch the JWKS at {self.url}: {exc}", retry_after=self._retry
                        ) from exc
            key = self._keys.get(kid) if self._keys else None
        if self._keys is None:
            raise Unavailable(f"the JWKS at {self.url} could not be fetched yet", retry_after=self._retry)
        return key


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The caller a verified token stands for. Raises `Unauthenticated` if a claim is missing or bad."""
    scope = claims.get(Claims.SCOPE, "")
    roles = claims.get(Claims.ROLES, [])
    if not isinstance(scope, str) or not isinstance(roles, list):
        raise Unauthenticated("token claims 'scope' (a string) or 'roles' (a list) are malformed")
    run = claims.get(Claims.RUN)
    actor = claims.get(Claims.ACTOR)
    actor_subject = actor.get("sub") if isinstance(actor, dict) else None
    if (run is not None and not isinstance(run, str)) or (actor is not None and not isinstance(actor_subject, str)):
        raise Unauthenticated(
            f"token claims '{Claims.RUN}' (a string) or '{Claims.ACTOR}' (an object with 'sub') are malformed"
        )
    try:
        return Principal(
            tenant=claims.get(Claims.TENANT),  # validated by the model
            subject=claims["sub"],
            client_id=str(claims.get(Claims.CLIENT_ID) or claims.get("azp") or claims["sub"]),
            roles=frozenset(str(r) for r in roles),
            scopes=frozenset(scope.split()),
            run=run,
            actor=actor_subject,
        )
    except (KeyError, ValidationError) as exc:
        raise Unauthenticated(f"token has no valid '{Claims.TENANT}' or 'sub' claim") from exc


class VerifiedAccess(AccessToken):
    """The SDK's `AccessToken` for a token this server verified, with the caller it stands for
    (built once per token and cached with it, instead of again from the claims on every request)."""

    principal: Principal = Field(exclude=True)


def principal_of(access: AccessToken) -> Principal:
    """The caller behind an access token the SDK's bearer middleware accepted."""
    if isinstance(access, VerifiedAccess):
        return access.principal
    return principal_from_claims(access.claims or {})


class JwtVerifier:
    """Verifies deskhand bearer tokens: signature, pinned algorithm, `iss`, `aud`, `exp`, `nbf`.

    Verified tokens are remembered (bounded, until they expire), so a client that sends the
    same token on every request pays for the signature check once.
    """

    def __init__(
        self,
        keys: KeySet | JwksUrl,
        *,
        issuer: str,
        audience: str | Iterable[str],
        cache_size: int = 4096,
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audiences = [audience] if isinstance(audience, str) else list(audience)
        self._cache: OrderedDict[str, tuple[AccessToken, Principal]] = OrderedDict()
        self._cache_size = cache_size

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's `TokenVerifier` protocol: an `AccessToken`, or None (the SDK answers 401)."""
        try:
            return (await self.verify(token))[0]
        except Unauthenticated:
            return None

    async def verify_principal(self, token: str) -> Principal:
        return (await self.verify(token))[1]

    async def verify(self, token: str) -> tuple[AccessToken, Principal]:
        """Verify `token`; a `TokenRefused` says why it is refused, `Unavailable` that its keys cannot be fetched."""
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            access, principal = cached
            if access.expires_at is not None and access.expires_at + CLOCK_SKEW_SECONDS > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
        claims = await self.verified_claims(token)
        try:
            principal = principal_from_claims(claims)
        except Unauthenticated as exc:
            raise TokenRefused("claims_malformed", exc.message) from exc
        audience = claims["aud"]
        resource = next(a for a in self.audiences if a == audience or (isinstance(audience, list) and a in audience))
        access = VerifiedAccess(
            principal=principal,
            token=token,
            client_id=principal.client_id,
            subject=principal.subject,
            scopes=sorted(principal.scopes),
            expires_at=int(claims["exp"]),
            resource=resource,
            claims=claims,
        )
        self._cache[token] = (access, principal)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return access, principal

    async def verified_claims(self, token: str) -> dict[str, Any]:
        """The claims of `token` once its signature, algorithm, `iss`, `aud` and dates check out (uncached, and
        with no principal built: for a face whose callers are not a server's, such as the HTTP API)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused("malformed", f"malformed token: {exc}") from exc
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise TokenRefused("algorithm_refused", f"token algorithm {alg!r} is not accepted")
        kid = header.get("kid")  # a string: PyJWT refuses any other `kid` as malformed
        key = await self._key(kid)
        if key is None:
            raise TokenRefused("unknown_key", f"token key id {kid!r} is unknown")
        if key.algorithm_name != alg:
            raise TokenRefused(
                "algorithm_refused", f"token algorithm {alg!r} does not match its key's {key.algorithm_name!r}"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audiences,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc) from exc
        _check_numeric_dates(claims)
        return claims

    async def _key(self, kid: str | None) -> jwt.PyJWK | None:
        if isinstance(self._keys, JwksUrl):
            return await self._keys.get(kid)
        return self._keys.get(kid)


class PinnedVerifier(JwtVerifier):
    """A `JwtVerifier` for a server pinned to one tenant (the isolation tier): a token that verifies but acts for
    another tenant is refused (`wrong_tenant`, a 401), whichever key signed it. Its keys are the tenant's own."""

    def __init__(
        self,
        keys: KeySet | JwksUrl,
        *,
        tenant: str,
        issuer: str,
        audience: str | Iterable[str],
        cache_size: int = 4096,
    ) -> None:
        super().__init__(keys, issuer=issuer, audience=audience, cache_size=cache_size)
        self.tenant = tenant

    async def verify(self, token: str) -> tuple[AccessToken, Principal]:
        access, principal = await super().verify(token)
        if principal.tenant != self.tenant:
            raise TokenRefused(
                "wrong_tenant", f"token for tenant {principal.tenant!r} at a server pinned to {self.tenant!r}"
            )
        return access, principal
