"""flask-jwt-extended's manager, remembering the tokens it has verified until they expire.

A client sends the same bearer token with every request for its lifetime (30 minutes), and
flask-jwt-extended verifies it from scratch each time: the claims and the header read without
verification, then the HMAC and the claims verified (about 10 % of the worker's CPU for
``GET /api/users/me``). The outcome of that verification depends only on the token's text, the
decoding settings (key, algorithms, audience, issuer, leeway, identity claim, ``verify_sub``)
and the clock, and only through ``exp`` can it change with time (``nbf`` and ``iat`` once
passed stay passed). So :class:`RememberingJWTManager` keeps the verified claims of a token,
under those settings, and gives them again while ``now < exp + leeway`` (PyJWT's own rule);
an expired token, other settings, a CSRF value or ``allow_expired`` go through the full
verification and get its errors. Whether the token is still good for its user (logout,
blocklist, deactivation, session version) is asked on every request as before
(:func:`app.services.tokens.token_holder`): this only saves recomputing the signature.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.default_callbacks import default_decode_key_callback

#: How many verified tokens a worker remembers at most (about 1.2 KB each, ~1.2 MB in all); the
#: oldest goes first.
CAPACITY = 1024


def _settings() -> tuple[Any, ...]:
    """The decoding settings of the current app a verification depends on."""
    audience = config.decode_audience
    if audience is not None and not isinstance(audience, str):
        audience = tuple(audience)
    return (
        config.decode_key,
        tuple(config.decode_algorithms),
        audience,
        config.decode_issuer,
        config.leeway,
        config.identity_claim_key,
        config.verify_sub,
    )


def _seconds(leeway: Any) -> float:
    """``JWT_DECODE_LEEWAY`` in seconds (an int or a timedelta, as PyJWT takes it)."""
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)


class RememberingJWTManager(JWTManager):
    """A :class:`flask_jwt_extended.JWTManager` whose token verification is remembered per
    token text and settings until the token expires (see the module docstring)."""

    def __init__(self, app: Any = None, add_context_processor: bool = False) -> None:
        super().__init__(app, add_context_processor)
        self._verified: dict[tuple[str, tuple[Any, ...]], tuple[float, dict[str, Any]]] = {}

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict:
        """The verified claims of ``encoded_token`` (a copy), remembered or verified now.

        Raises:
            jwt.PyJWTError, flask_jwt_extended.exceptions.JWTExtendedException: as
                flask-jwt-extended's own (every failing token is verified afresh).
        """
        if (
            csrf_value
            or allow_expired
            or self._decode_key_callback is not default_decode_key_callback
        ):
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        key = (encoded_token, _settings())
        remembered = self._verified.get(key)
        if remembered is not None:
            if time.time() < remembered[0]:
                return dict(remembered[1])
            self._verified.pop(key, None)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        expires = claims.get("exp")
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            if len(self._verified) >= CAPACITY:
                del self._verified[next(iter(self._verified))]
            self._verified[key] = (expires + _seconds(key[1][4]), dict(claims))
        return claims
