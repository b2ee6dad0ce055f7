"""What every request costs: work that cannot matter to a request is not done for it (issue #15),
and what the hooks guarantee stays the same."""

from __future__ import annotations

from app import portal_login


def test_a_request_without_cookies_loads_no_portal_user(client, monkeypatch):
    """A probe or a bearer client sends no cookie: flask-login's loaders (session look-up,
    remember-me cookie) cannot find anyone, so they are not run."""
    calls: list[int] = []
    real = portal_login.resume_remembered_user

    def counted():  # type: ignore[no-untyped-def]
        calls.append(1)
        return real()

    monkeypatch.setattr(portal_login, "resume_remembered_user", counted)
    assert client.get("/healthy").status_code == 200
    assert client.get("/health").status_code == 200
    assert calls == []


def test_the_session_signer_is_built_once_per_key_set(app):
    interface = app.session_interface
    first = interface.get_signing_serializer(app)
    assert first is not None
    assert interface.get_signing_serializer(app) is first
    app.config["SECRET_KEY_FALLBACKS"] = ["an-older-key-" + "x" * 40]
    try:
        rotated = interface.get_signing_serializer(app)
        assert rotated is not first
        assert len(rotated.secret_keys) == 2
    finally:
        app.config["SECRET_KEY_FALLBACKS"] = []
    assert interface.get_signing_serializer(app) is not rotated


def test_a_views_own_security_header_is_kept_whatever_its_case(make_app):
    app = make_app()

    @app.get("/own-headers")
    def own_headers():  # type: ignore[no-untyped-def]
        return "x", 200, {"cache-control": "private, no-store", "x-frame-options": "SAMEORIGIN"}

    from app.security import public

    public(own_headers)
    response = app.test_client().get("/own-headers")
    assert response.headers.getlist("Cache-Control") == ["private, no-store"]
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_spectree_plugin_overrides_what_spectree_calls():
    """app.openapi.FlaskPlugin replaces spectree's request_validation: same parameters, so an
    upgrade of spectree that changes them fails here rather than in a request."""
    import inspect

    from spectree.plugins.flask_plugin import FlaskPlugin as SpectreePlugin

    from app.openapi import FlaskPlugin, spec

    assert isinstance(spec.backend, FlaskPlugin)
    ours = inspect.signature(FlaskPlugin.request_validation).parameters
    theirs = inspect.signature(SpectreePlugin.request_validation).parameters
    assert list(ours) == list(theirs)


def test_a_bad_query_header_or_body_is_still_refused_by_spectree(client, make_user, api_headers):
    headers = api_headers(make_user())
    answer = client.get("/api/cases?limit=abc", headers=headers)
    assert answer.status_code == 422
    assert "limit" in answer.get_json()["error"]["details"]
    answer = client.post("/api/cases", json={"age": "old"}, headers=headers)
    assert answer.status_code == 422


def test_pyjwt_segments_are_checked_by_the_fast_equivalent(app):
    """app/jwt_segments.py replaces PyJWT's per-byte check only over the release it mirrors;
    a PyJWT upgrade fails here until the copy is compared with the new release."""
    from jwt import api_jws

    from app import jwt_segments

    assert api_jws.PyJWS._decode_base64url_segment is jwt_segments.decode_segment


def test_the_fast_segment_check_accepts_and_refuses_exactly_what_pyjwt_does():
    import base64
    import random

    from jwt.exceptions import DecodeError

    from app.jwt_segments import ORIGINAL, decode_segment

    def outcome(check, segment):  # type: ignore[no-untyped-def]
        try:
            return ("ok", check(segment, "payload"))
        except DecodeError as error:
            return ("error", str(error))

    rng = random.Random(15)
    samples = [b"", b"=", b"==", b"===", b"a", b"ab", b"abc", b"abcd", b"ab==", b"abc=", b"a===="]
    samples += [b"!!!!", b"ab+/", b"ab c", b"ab\n", b"\xff\xfe", b"eyJhbGciOiJIUzI1NiJ9", b"QQ"]
    for _ in range(3000):
        raw = rng.randbytes(rng.randrange(0, 40))
        encoded = base64.urlsafe_b64encode(raw)
        kind = rng.randrange(4)
        if kind == 1:
            encoded = encoded.rstrip(b"=")
        elif kind == 2 and encoded:
            at = rng.randrange(len(encoded))
            encoded = encoded[:at] + bytes([rng.randrange(256)]) + encoded[at + 1 :]
        elif kind == 3:
            encoded = encoded.rstrip(b"=") + b"=" * rng.randrange(4)
        samples.append(encoded)
    for segment in samples:
        assert outcome(decode_segment, segment) == outcome(ORIGINAL, segment), segment


def _count_verifications(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    from flask_jwt_extended import JWTManager

    verified: list[str] = []
    real = JWTManager._decode_jwt_from_config

    def counted(self, encoded_token, *args, **kwargs):  # type: ignore[no-untyped-def]
        verified.append(encoded_token)
        return real(self, encoded_token, *args, **kwargs)

    monkeypatch.setattr(JWTManager, "_decode_jwt_from_config", counted)
    return verified


def test_a_bearer_token_is_verified_once_then_remembered(
    client, make_user, api_headers, monkeypatch
):
    headers = api_headers(make_user())
    verified = _count_verifications(monkeypatch)
    for _ in range(3):
        assert client.get("/api/users/me", headers=headers).status_code == 200
    assert len(verified) == 1


def test_a_remembered_token_is_refused_once_the_key_changes(app, client, make_user, api_headers):
    headers = api_headers(make_user())
    assert client.get("/api/users/me", headers=headers).status_code == 200
    key = app.config["JWT_SECRET_KEY"]
    app.config["JWT_SECRET_KEY"] = "another-jwt-secret-key-of-at-least-32-bytes"
    try:
        response = client.get("/api/users/me", headers=headers)
    finally:
        app.config["JWT_SECRET_KEY"] = key
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_invalid"
    assert client.get("/api/users/me", headers=headers).status_code == 200


def test_a_remembered_token_is_refused_after_logout(client, make_user, api_headers):
    headers = api_headers(make_user())
    assert client.get("/api/users/me", headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code in {200, 204}
    response = client.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"


def test_a_request_without_cookies_gets_no_cookie_and_still_varies_on_cookie(client):
    response = client.get("/healthy")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "Cookie"  # as before: flask-login reads the session
