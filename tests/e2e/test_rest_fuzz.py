"""The REST fuzzer: schemathesis drives the real gateway (Envoy) in front of a real server process, with the API
key, from the committed OpenAPI document (made testable by tests/support/openapi.py). No answer may be a 5xx, and
every answer must match the document: its status, content type and JSON schema (errors: a google.rpc.Status with
exactly one ErrorInfo). `make test` runs the `ci` hypothesis profile (bounded); `make fuzz` the long one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.gateway import StartGateway, the_error_info
from tests.support.openapi import fuzzable_document
from tests.support.server_process import ServerProcess

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CALL_SECONDS = 60


@pytest.fixture
def server(tmp_path: Path):
    process = ServerProcess(tmp_path / "data", tmp_path / "server.log",
                            env={"STORYLOOM_DEV_BOOTSTRAP": "1", "STORYLOOM_TEXT_ENGINE": "offline",
                                 "STORYLOOM_VOICE_WARM_UP": "0"})
    process.start()
    yield process
    process.kill()


def check_answer(response: schemathesis.Response) -> None:
    """A JSON error carries exactly one ErrorInfo; the body of a stream never says INTERNAL or UNKNOWN."""
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])[0]
    if response.status_code >= 400 and content_type.startswith("application/json"):
        the_error_info(response.json())
    if content_type.startswith("text/event-stream"):
        assert '"code": 13' not in response.text and '"code":13' not in response.text, response.text[:500]
        assert '"code":2,' not in response.text, response.text[:500]


async def test_the_gateway_answers_every_generated_request_within_the_document(
        server: ServerProcess, start_gateway: StartGateway) -> None:
    gateway = await start_gateway(server.port)
    key = (server.data_dir / "dev-api-key").read_text().strip()
    schema = schemathesis.openapi.from_dict(fuzzable_document())
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    session = requests.Session()

    @settings(max_examples=settings().max_examples)
    @given(strategy)
    def fuzz(case: schemathesis.Case) -> None:
        if case.path_parameters and any("/" in str(v) or str(v) in ("", ".", "..")
                                        for v in case.path_parameters.values()):
            return  # a path segment that is no segment: the URL then names another route, which has its own case
        response = case.call(base_url=gateway.url, session=session, headers={"x-api-key": key},
                             timeout=CALL_SECONDS, stream=False)
        case.validate_response(response, checks=CHECKS)
        check_answer(response)

    try:
        await asyncio.to_thread(fuzz)
    finally:
        session.close()
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
