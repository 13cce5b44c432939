"""The API's timestamps: what `Timestamp.FromDatetime` makes of a time, without its struct_time for a UTC or naive
one (each reply, story and task answer has a few)."""

from __future__ import annotations

import datetime as dt
import random

from google.protobuf import timestamp_pb2

from storyloom.api.requests import timestamp

UTC = dt.UTC


class CountedTime(dt.datetime):
    """A time that counts how often it is made a UTC struct_time (what FromDatetime does)."""

    tuples = 0

    def utctimetuple(self):  # type: ignore[no-untyped-def]
        CountedTime.tuples += 1
        return super().utctimetuple()


def from_datetime(value: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def test_a_timestamp_is_what_from_datetime_makes() -> None:
    rng = random.Random(15)
    values = [dt.datetime.min, dt.datetime.max, dt.datetime(1970, 1, 1), dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
              dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(2026, 12, 6, 20, 21, 30, 123456, tzinfo=UTC),
              dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
              dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=14)))]
    for _ in range(2000):
        naive = dt.datetime(1, 1, 2) + dt.timedelta(microseconds=rng.randrange(315_000_000_000_000_000))
        values += [naive, naive.replace(tzinfo=UTC)]
    for value in values:
        assert timestamp(value) == from_datetime(value), value
    assert timestamp(None) is None


def test_a_utc_or_naive_time_needs_no_struct_time() -> None:
    CountedTime.tuples = 0
    for value in (CountedTime(2026, 12, 6, 20, 21, 30, 5, tzinfo=UTC), CountedTime(2026, 12, 6, 20, 21, 30, 5)):
        assert timestamp(value) == from_datetime(dt.datetime(2026, 12, 6, 20, 21, 30, 5))
    assert CountedTime.tuples == 0
