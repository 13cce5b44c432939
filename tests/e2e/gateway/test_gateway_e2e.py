"""The Envoy gateway in front of the real Storyloom server: REST/JSON + SSE, gRPC-Web, gRPC.

Each test starts the in-process server (tests/conftest.py) and a real Envoy in front of it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import wave

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.support import task_kinds
from tests.support.gateway import BAD_REQUEST, StartGateway, free_port, sse_events, the_error_info
from tests.support.server import Caller, StoryloomServer

# --- helpers ---------------------------------------------------------------------------------


def grpc_web_request(message: bytes) -> bytes:
    return b"\x00" + len(message).to_bytes(4, "big") + message


def grpc_web_frames(body: bytes) -> tuple[list[bytes], dict[str, str]]:
    """Splits a gRPC-Web response body into its messages and its trailers."""
    messages, trailers, i = [], {}, 0
    while i < len(body):
        flag, length = body[i], int.from_bytes(body[i + 1 : i + 5], "big")
        payload = body[i + 5 : i + 5 + length]
        i += 5 + length
        if flag & 0x80:
            for line in payload.decode().split("\r\n"):
                if line:
                    key, _, value = line.partition(":")
                    trailers[key.strip().lower()] = value.strip()
        else:
            messages.append(payload)
    return messages, trailers


def wav_bytes(seconds: float = 3.0, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(i % 251 for i in range(int(seconds * rate) * 2)))
    return out.getvalue()


async def submit(server: StoryloomServer, caller: Caller, **params: object) -> str:
    task = await server.app.tasks.submit(caller.user_id, task_kinds.STEPS, dict(params))
    return f"tasks/{task.id}"


STILL_RUNNING = dict(steps=1, delay=60)


# --- fixtures --------------------------------------------------------------------------------


# --- REST / JSON -------------------------------------------------------------------------------


async def test_a_rest_get_returns_the_task_as_lower_camel_json_with_defaults_printed(
    http, storyloom_server, caller, key
):
    name = await submit(storyloom_server, caller, **STILL_RUNNING)
    response = await http.get(f"/v1/{name}", headers=key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    task = response.json()
    assert task["name"] == name
    assert task["kind"] == task_kinds.STEPS
    assert task["state"].startswith("TASK_STATE_")  # enums by name
    assert "lastSequence" in task and "last_sequence" not in task  # lowerCamelCase
    assert isinstance(task["lastSequence"], str)  # int64 is a JSON string (proto3 JSON)
    assert "percent" in task and "stage" in task  # zero values are printed, not dropped


async def test_an_authorization_bearer_header_reaches_the_server_as_metadata(http, storyloom_server, caller):
    name = await submit(storyloom_server, caller, **STILL_RUNNING)
    response = await http.get(f"/v1/{name}", headers={"authorization": f"Bearer {caller.key}"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == name


async def test_a_call_without_an_api_key_is_a_401_with_the_status_as_json(http):
    response = await http.get("/v1/tasks/abc")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["code"] == 16
    assert status["message"]
    assert the_error_info(status)["reason"] == "API_KEY_MISSING"


async def test_an_unknown_task_is_a_404_with_the_status_as_json(http, key):
    response = await http.get("/v1/tasks/doesnotexist", headers=key)
    assert response.status_code == 404
    status = response.json()
    assert status["code"] == 5
    assert the_error_info(status)["reason"]


async def test_invalid_input_is_a_400_with_bad_request_field_violations(http, key):
    response = await http.get("/v1/tasks/abc:watch", params={"afterSequence": "-1"}, headers=key)
    assert response.status_code == 400  # a stream that fails before its first event keeps its status
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["code"] == 3
    the_error_info(status)
    (bad_request,) = [d for d in status["details"] if d["@type"] == BAD_REQUEST]
    assert bad_request["fieldViolations"][0]["field"] == "after_sequence"


# --- server streams as Server-Sent Events ------------------------------------------------------


async def test_a_task_watch_is_an_event_stream_of_gap_free_events_as_they_happen_ending_with_the_result(
    http, storyloom_server, caller, key
):
    name = await submit(storyloom_server, caller, steps=4, delay=0.3)
    started = time.monotonic()
    arrivals: list[float] = []
    body = ""
    async with http.stream("GET", f"/v1/{name}:watch", headers=key) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        async for chunk in response.aiter_text():
            body += chunk
            arrivals.append(time.monotonic() - started)
    events = sse_events(body)
    assert [e["sequence"] for e in events] == [str(i) for i in range(1, len(events) + 1)]
    running = [e for e in events if e["state"] == "TASK_STATE_RUNNING" and e["stage"]]
    assert [e["percent"] for e in running][:3] == [25, 50, 75]
    # Streamed as they happen, not buffered until the end (the task takes ~1.2 s).
    assert arrivals[0] < arrivals[-1] - 0.5
    # The result is an Any: its type must be in gateway/storyloom.pb for the transcoder to print
    # it (a missing type makes the unary call a JSON 502 and cuts the stream before this event).
    assert events[-1]["state"] == "TASK_STATE_SUCCEEDED"
    assert events[-1]["result"]["@type"] == "type.googleapis.com/google.protobuf.Struct"
    assert events[-1]["result"]["value"]["steps"] == 4


async def test_a_finished_task_is_printed_with_its_result(http, storyloom_server, caller, key):
    name = await submit(storyloom_server, caller, steps=1)
    await http.get(f"/v1/{name}:watch", headers=key)  # the watch ends when the task has finished
    task = await http.get(f"/v1/{name}", headers=key)
    assert task.status_code == 200, task.text
    assert task.json()["state"] == "TASK_STATE_SUCCEEDED"
    assert task.json()["result"]["value"] == {"steps": 1, "ran": [[1, 1]]}


async def test_a_watch_resumes_after_the_last_sequence_seen(http, storyloom_server, caller, key):
    name = await submit(storyloom_server, caller, steps=3)
    full = sse_events((await http.get(f"/v1/{name}:watch", headers=key)).text)
    resumed = sse_events((await http.get(f"/v1/{name}:watch?afterSequence=2", headers=key)).text)
    assert len(full) > 3
    assert resumed == full[2:]
    assert resumed[-1]["state"] == "TASK_STATE_SUCCEEDED"


async def test_a_failed_task_ends_its_event_stream_with_an_in_band_error(http, storyloom_server, caller, key):
    name = await submit(storyloom_server, caller, steps=3, fail_at=2)
    response = await http.get(f"/v1/{name}:watch", headers=key)
    assert response.status_code == 200
    last = sse_events(response.text)[-1]
    assert last["state"] == "TASK_STATE_FAILED"
    assert last["error"]["code"] == 9  # FAILED_PRECONDITION, as a google.rpc.Status in the event
    assert the_error_info(last["error"])["reason"] == "TEST_STEP_FAILED"


# --- media: raw bytes in and out ---------------------------------------------------------------


async def test_a_raw_file_upload_downloads_as_the_same_bytes_with_its_content_type(http, key):
    audio = wav_bytes(seconds=3.0)  # ~96 KB: more than one 64 KiB chunk
    created = await http.post(
        "/v1/media", params={"requestId": "3f1c8a5e-0000-4000-8000-000000000001"}, content=audio,
        headers={**key, "content-type": "audio/wav"},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    media = created.json()
    assert media["contentType"] == "audio/wav"
    assert media["sizeBytes"] == str(len(audio))
    assert media["sha256"] == hashlib.sha256(audio).hexdigest()

    download = await http.get(media["downloadPath"], headers=key)
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/wav"
    assert download.content == audio

    info = (await http.get(f"/v1/{media['name']}", headers=key)).json()
    assert info["audio"]["sampleRateHertz"] == 16000


async def test_a_missing_media_download_is_a_json_404_not_an_empty_file(http, key):
    response = await http.get("/v1/media/doesnotexist:download", headers=key)
    assert response.status_code == 404
    assert response.json()["code"] == 5


# --- the gateway's own errors ------------------------------------------------------------------


async def test_an_unknown_path_is_a_json_404(http):
    response = await http.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["code"] == 5 and status["status"] == "NOT_FOUND"
    assert "/no/such/thing" in status["message"]
    info = the_error_info(status)
    assert info["reason"] == "UNKNOWN_PATH" and info["metadata"]["source"] == "gateway"


async def test_an_unknown_query_parameter_is_a_json_400(http, key):
    response = await http.get("/v1/tasks/abc", params={"bogus": "1"}, headers=key)
    assert response.status_code == 400
    status = response.json()
    assert status["code"] == 3 and "bogus" in status["message"]


async def test_malformed_json_is_a_json_400(http, key):
    response = await http.post(
        "/v1/tasks/abc:cancel", content=b"{not json", headers={**key, "content-type": "application/json"}
    )
    assert response.status_code == 400
    status = response.json()
    assert status["code"] == 3 and status["status"] == "INVALID_ARGUMENT"


async def test_healthz_reports_a_serving_backend(http):
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "SERVING"}


# --- gRPC-Web and CORS -------------------------------------------------------------------------

GRPC_WEB = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1", "origin": "http://app.example"}


async def test_a_grpc_web_call_returns_the_message_and_ok_trailers(http, storyloom_server, caller, key):
    name = await submit(storyloom_server, caller, steps=1)
    body = grpc_web_request(task_pb2.GetTaskRequest(name=name).SerializeToString())
    response = await http.post("/storyloom.v1.TaskService/GetTask", content=body, headers={**GRPC_WEB, **key})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/grpc-web")
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    messages, trailers = grpc_web_frames(response.content)
    assert trailers["grpc-status"] == "0"
    assert task_pb2.Task.FromString(messages[0]).name == name


async def test_a_grpc_web_stream_carries_every_event(http, storyloom_server, caller, key):
    name = await submit(storyloom_server, caller, steps=3)
    body = grpc_web_request(task_pb2.WatchTaskRequest(name=name).SerializeToString())
    response = await http.post("/storyloom.v1.TaskService/WatchTask", content=body, headers={**GRPC_WEB, **key})
    messages, trailers = grpc_web_frames(response.content)
    events = [task_pb2.TaskEvent.FromString(m) for m in messages]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    assert trailers["grpc-status"] == "0"


async def test_a_grpc_web_error_is_in_headers_that_browsers_may_read(http):
    body = grpc_web_request(task_pb2.GetTaskRequest(name="tasks/abc").SerializeToString())
    response = await http.post("/storyloom.v1.TaskService/GetTask", content=body, headers=GRPC_WEB)
    assert response.status_code == 200
    assert response.headers["grpc-status"] == "16"
    assert response.headers["grpc-message"]
    details = base64.b64decode(response.headers["grpc-status-details-bin"] + "==")
    assert b"API_KEY_MISSING" in details
    exposed = response.headers["access-control-expose-headers"]
    for header in ("grpc-status", "grpc-message", "grpc-status-details-bin"):
        assert header in exposed
    assert not response.headers["content-type"].startswith("application/json")


async def test_a_cors_preflight_allows_any_origin_and_the_api_key_header(http):
    response = await http.options(
        "/storyloom.v1.TaskService/GetTask",
        headers={
            "origin": "http://localhost:3000",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-api-key,content-type,x-grpc-web,x-user-agent",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    allowed = response.headers["access-control-allow-headers"]
    for header in ("x-api-key", "authorization", "content-type", "x-grpc-web", "x-user-agent"):
        assert header in allowed


# --- native gRPC ---------------------------------------------------------------------------------


async def test_native_grpc_passes_through_with_metadata_streams_and_rich_errors(
    gateway, storyloom_server, caller
):
    name = await submit(storyloom_server, caller, steps=3)
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        task = await stub.GetTask(task_pb2.GetTaskRequest(name=name), metadata=caller.metadata, timeout=10)
        assert task.name == name
        watch = stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata, timeout=10)
        events = [e async for e in watch]
        assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetTask(task_pb2.GetTaskRequest(name="tasks/doesnotexist"), metadata=caller.metadata, timeout=10)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    status = rpc_status.from_call(raised.value)
    assert status is not None and status.details[0].Is(error_details_pb2.ErrorInfo.DESCRIPTOR)


# --- backend down ------------------------------------------------------------------------------


async def test_a_stopping_server_is_noticed_and_rest_callers_get_a_json_503(
    gateway, http, storyloom_server, key
):
    # The server reports NOT_SERVING, then stops: Envoy's health checks take it out.
    await storyloom_server.running.stop(0.2)
    started = time.monotonic()
    await gateway.wait_health(healthy=False, timeout=10)
    assert time.monotonic() - started < 6
    response = await http.get("/v1/tasks/abc", headers=key)
    assert response.status_code == 503
    status = response.json()
    assert status["code"] == 14 and status["status"] == "UNAVAILABLE"
    assert the_error_info(status)["reason"] == "BACKEND_UNAVAILABLE"


async def test_a_gateway_without_a_backend_answers_each_kind_of_caller_at_once(start_gateway: StartGateway):
    gateway = await start_gateway(free_port(), wait_healthy=False)  # nothing listens there
    async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as http:
        started = time.monotonic()
        rest = await http.get("/v1/tasks/abc")
        assert time.monotonic() - started < 4  # at once: not after the client's 5 s timeout
        assert rest.status_code == 503
        assert rest.json()["code"] == 14 and rest.json()["message"] == "no healthy upstream"
        # Server-sent-event and media routes too.
        assert (await http.get("/v1/tasks/abc:watch")).json()["code"] == 14
        assert (await http.get("/v1/media/abc:download")).json()["code"] == 14

        health = await http.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "UNAVAILABLE"

        # gRPC-Web and gRPC callers get gRPC statuses, not JSON.
        body = grpc_web_request(task_pb2.GetTaskRequest(name="tasks/abc").SerializeToString())
        web = await http.post("/storyloom.v1.TaskService/GetTask", content=body, headers=GRPC_WEB)
        assert web.headers["grpc-status"] == "14"
        assert web.headers["grpc-message"] == "no healthy upstream"
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await task_pb2_grpc.TaskServiceStub(channel).GetTask(task_pb2.GetTaskRequest(name="tasks/abc"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "no healthy upstream"
