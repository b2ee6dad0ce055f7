"""The diagnosis queue at the door (app/services/admission.py), with greenlets as in a worker.

The served behaviour (a real gunicorn worker, a slow AI, a client that goes away) is in
tests/test_admission_served.py.
"""

from __future__ import annotations

import io
import socket

import gevent
import pytest

from app.services.admission import DiagnosisQueueFull, DoorQueue, client_gone


def _holder(queue: DoorQueue, name: str, log: list[str], hold: gevent.event.Event) -> None:
    queue.enter()
    log.append(name)
    try:
        hold.wait()
    finally:
        queue.leave(0.1)


def test_at_most_limit_run_and_the_others_are_served_first_come_first_served():
    queue = DoorQueue(limit=2, queue_limit=10)
    log: list[str] = []
    release = {name: gevent.event.Event() for name in "abcdef"}
    greenlets = []
    for name in "abcdef":
        greenlets.append(gevent.spawn(_holder, queue, name, log, release[name]))
        gevent.sleep(0.001)  # arrive in this order
    gevent.sleep(0.01)
    assert log == ["a", "b"]
    assert (queue.active, queue.waiting) == (2, 4)
    release["b"].set()
    gevent.sleep(0.01)
    assert log == ["a", "b", "c"]
    for name in "acdef":
        release[name].set()
        gevent.sleep(0.01)
    gevent.joinall(greenlets, raise_error=True)
    assert log == list("abcdef")
    assert (queue.active, queue.waiting) == (0, 0)


def test_a_full_queue_refuses_at_once_with_a_retry_after():
    queue = DoorQueue(limit=1, queue_limit=2)
    hold = gevent.event.Event()
    log: list[str] = []
    greenlets = [gevent.spawn(_holder, queue, str(i), log, hold) for i in range(3)]
    gevent.sleep(0.01)
    assert (queue.active, queue.waiting) == (1, 2)
    with pytest.raises(DiagnosisQueueFull) as refused:
        queue.enter()
    error = refused.value
    assert error.status == 503
    assert error.code == "diagnosis_queue_full"
    assert error.retry_after >= 1
    assert error.details == {"retry_after_seconds": error.retry_after, "waiting": 2}
    hold.set()
    gevent.joinall(greenlets, raise_error=True)
    assert log == ["0", "1", "2"]


def test_a_waiter_killed_in_line_leaves_no_slot_taken():
    queue = DoorQueue(limit=1, queue_limit=5)
    hold = gevent.event.Event()
    log: list[str] = []
    first = gevent.spawn(_holder, queue, "first", log, hold)
    gevent.sleep(0.01)
    killed = gevent.spawn(_holder, queue, "killed", log, gevent.event.Event())
    third = gevent.spawn(_holder, queue, "third", log, hold)
    gevent.sleep(0.01)
    killed.kill()
    assert queue.waiting == 1
    hold.set()
    gevent.joinall([first, third], raise_error=True)
    assert log == ["first", "third"]
    assert (queue.active, queue.waiting) == (0, 0)


def test_client_gone_reads_the_tcp_state_of_the_socket():
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        with accepted:
            client.sendall(b"POST /api/diagnosis HTTP/1.1\r\n")  # unread bytes stay queued
            assert not client_gone({"gunicorn.socket": accepted})
            client.close()
            gevent.sleep(0.05)
            assert client_gone({"gunicorn.socket": accepted})
    assert not client_gone({})  # no socket (a test client): it cannot tell


def test_a_diagnosis_whose_client_left_during_the_intake_stores_nothing(app, make_user):
    """Checked again once the photo has passed the intake: nothing stored, no AI call (the
    app's AI URL is never reached: the error would be an AI error, not this one)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Case
    from app.services.admission import ClientClosedRequest
    from app.services.diagnosis import diagnose_upload
    from tests.conftest import SAMPLES

    user = make_user()
    photo = (SAMPLES / "images" / "mel_ISIC_0033454.jpg").read_bytes()
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        with accepted:
            client.close()
            gevent.sleep(0.05)
            environ = {"gunicorn.socket": accepted}
            with app.test_request_context("/api/diagnosis", environ_base=environ):
                before = db.session.scalar(select(func.count()).select_from(Case))
                with pytest.raises(ClientClosedRequest):
                    diagnose_upload(
                        actor=db.session.merge(user), upload=io.BytesIO(photo), anamnesis={}
                    )
                db.session.rollback()
                assert db.session.scalar(select(func.count()).select_from(Case)) == before
                db.session.remove()
