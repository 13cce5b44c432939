"""Bad input through REST: the reproductions of issue 10, each a 4xx with exactly one ErrorInfo."""

from __future__ import annotations

import pytest

from tests.support.gateway import the_error_info


@pytest.mark.parametrize("path", ["/v1/tasks?pageToken=%ff%fe", "/v1/tasks/%C0%AE"])
async def test_a_request_that_does_not_decode_is_a_400_malformed_request(http, key, path) -> None:
    answer = await http.get(path, headers=key)
    assert answer.status_code == 400, answer.text
    assert the_error_info(answer.json())["reason"] == "MALFORMED_REQUEST"
    assert "DecodeError" not in answer.text
