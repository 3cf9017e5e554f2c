"""The ApplicationMessage event of an in-sequence application message (built through its
slots on the hot path) is the same value a plain constructor call gives."""

import dataclasses

import pytest

from fixexchange.session import ApplicationMessage

from .helpers import SESSION_ID, logged_on, message


def test_application_event_equals_the_constructed_one():
    client = logged_on()
    events = client.connection.receive_data(
        message(b"D", 2, client.now, [(11, b"o1"), (21, b"1"), (55, b"SYM1"), (54, b"1"), (60, b"20260101-00:00:00"),
                                      (38, 100), (40, b"2"), (44, b"105")]), client.now)
    [event] = events
    assert type(event) is ApplicationMessage
    assert event == ApplicationMessage(SESSION_ID, event.message)
    assert hash(event) == hash(ApplicationMessage(SESSION_ID, event.message))
    assert repr(event) == repr(ApplicationMessage(SESSION_ID, event.message))
    assert event.session_id == SESSION_ID and event.message.get(11) == b"o1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.session_id = "other"
