"""How a download answers a GET's Range and If-None-Match headers (api/downloads.py), without a server."""

from __future__ import annotations

import pytest

from storyloom.api.downloads import Plan, not_modified, plan

ETAG = '"abc"'


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, Plan(200)),
    ({"range": "bytes=0-9"}, Plan(206, 0, 10)),
    ({"range": "bytes=90-"}, Plan(206, 90, 10)),
    ({"range": "bytes=95-500"}, Plan(206, 95, 5)),  # a last byte past the end is the end
    ({"range": "bytes=-3"}, Plan(206, 97, 3)),
    ({"range": "bytes=-500"}, Plan(206, 0, 100)),
    ({"range": "bytes=100-"}, Plan(416)),
    ({"range": "bytes=-0"}, Plan(416)),
    ({"range": "bytes=5-1"}, Plan(200)),  # invalid: ignored
    ({"range": "bytes=0-1,5-6"}, Plan(200)),  # several ranges: the whole file instead
    ({"range": "items=0-1"}, Plan(200)),
    ({"range": "bytes=0-9", "if-range": '"other"'}, Plan(200)),
    ({"range": "bytes=0-9", "if-range": ETAG}, Plan(206, 0, 10)),
    ({"if-none-match": ETAG, "range": "bytes=0-9"}, Plan(304)),
])
def test_a_get_is_planned_from_its_headers(headers, expected):
    assert plan(headers, ETAG, 100) == expected


@pytest.mark.parametrize(("header", "matches"), [
    (None, False), ("", False), (ETAG, True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"abcd"', False),
])
def test_if_none_match_compares_tags_weakly(header, matches):
    assert not_modified(header, ETAG) is matches
