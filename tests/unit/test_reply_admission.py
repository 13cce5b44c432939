"""Reply admission: a place per reply, refused at once when full, given back when the reply ends or the send fails."""

from __future__ import annotations

import pytest

from storyloom.domain.errors import ResourceExhausted
from storyloom.domain.reply_admission import ReplyAdmission


def test_a_full_process_refuses_at_once_with_a_retry_delay_and_takes_replies_again_once_one_ends():
    admission = ReplyAdmission(limit=2)
    for reply in ("a", "b"):
        with admission.reserve():
            admission.admit(reply)
    with pytest.raises(ResourceExhausted) as refused, admission.reserve():
        pass
    assert refused.value.reason == "REPLIES_AT_CAPACITY" and refused.value.retry_after_seconds > 0
    admission.release("a")
    with admission.reserve():
        admission.admit("c")
    assert len(admission) == 2


def test_a_send_that_fails_before_admitting_gives_its_place_back():
    admission = ReplyAdmission(limit=1)
    with pytest.raises(RuntimeError), admission.reserve():
        assert len(admission) == 1
        raise RuntimeError("the database refused the message")
    assert len(admission) == 0
    with admission.reserve():
        admission.admit("a")
    assert len(admission) == 1


def test_a_reply_admitted_while_its_send_finishes_holds_one_place_not_two():
    admission = ReplyAdmission(limit=2)
    with admission.reserve() as place:
        admission.admit("a", place)
        assert len(admission) == 1
        with admission.reserve() as second:  # a second send is let in while the first one is still being stored
            admission.admit("b", second)
    assert len(admission) == 2
    admission.release("a")
    assert len(admission) == 1
