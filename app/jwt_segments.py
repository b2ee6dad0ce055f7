"""PyJWT's check of a token's base64url segments, at the speed of one ``bytes.translate``.

PyJWT 2.15.1 refuses a segment with a character outside the base64url alphabet (its fix for
GHSA-hxm8-2xgr-2p9m) with a Python generator over every byte: ``any(c not in ALPHABET for c in
segment)``. flask-jwt-extended reads a bearer token four times per request (the claims and the
header unverified, the header again, then the verified decode), 12 segments and some 1,400
generator steps for a token of 350 bytes: about 50 us of the 550 us CPU of ``GET
/api/users/me``. :func:`decode_segment` is PyJWT's function with that one test done by
``bytes.translate(None, ALPHABET)`` (what is left after deleting every alphabet byte must be
empty): the same segments pass, the same ones fail, with the same errors.

Installed by :func:`install` only over the PyJWT release it was written against
(``requirements.txt`` pins it); any other release keeps its own function, and
tests/test_request_cost.py says so.
"""

from __future__ import annotations

import binascii

import jwt
from jwt import api_jws
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

#: The PyJWT release whose ``PyJWS._decode_base64url_segment`` :func:`decode_segment` mirrors.
PYJWT_VERSION = "2.15.1"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ORIGINAL = api_jws.PyJWS.__dict__.get("_decode_base64url_segment")
#: PyJWT's own function (compared with :func:`decode_segment` by the tests).
ORIGINAL = getattr(_ORIGINAL, "__func__", _ORIGINAL)


def decode_segment(segment: bytes, name: str) -> bytes:
    """Decode one base64url ``segment`` of a compact JWS (``name``: header, payload or crypto).

    Raises:
        jwt.exceptions.DecodeError: bad padding, a byte outside the base64url alphabet, a
            length no base64 has, or a non-canonical encoding (as PyJWT 2.15.1).
    """
    # Accept trailing '=' used by some issuers (e.g. AWS ALB). Still reject non-alphabet junk.
    padding = 0
    stripped = segment
    while stripped.endswith(b"="):
        stripped = stripped[:-1]
        padding += 1
        if padding > 2:
            raise DecodeError(f"Invalid {name} padding")
    if padding and len(segment) % 4 != 0:
        raise DecodeError(f"Invalid {name} padding")
    if len(stripped) % 4 == 1 or stripped.translate(None, _ALPHABET):
        raise DecodeError(f"Invalid {name} padding")
    try:
        decoded = base64url_decode(stripped)
    except (TypeError, binascii.Error) as err:
        raise DecodeError(f"Invalid {name} padding") from err
    if base64url_encode(decoded) != stripped:
        raise DecodeError(f"Invalid {name} padding")
    return decoded


def install() -> bool:
    """Put :func:`decode_segment` in PyJWT's place when PyJWT is :data:`PYJWT_VERSION` and its
    alphabet is the one above; return whether it is in place."""
    if (
        jwt.__version__ != PYJWT_VERSION
        or getattr(api_jws, "_BASE64URL_ALPHABET", None) != _ALPHABET
    ):
        return False
    api_jws.PyJWS._decode_base64url_segment = staticmethod(decode_segment)  # type: ignore[method-assign]
    return True
