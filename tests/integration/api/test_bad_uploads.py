"""CreateMedia with the bad uploads of issue 10: INVALID_ARGUMENT with one ErrorInfo, nothing stored."""

from __future__ import annotations

import grpc
import pytest

from storyloom.v1 import media_pb2, media_pb2_grpc
from tests.conftest import Caller, StoryloomServer
from tests.support import media_samples as samples
from tests.support.errors import the_error_info


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"\x00\x01" * 100, "audio/l16;rate=²", "SAMPLE_RATE_UNSUPPORTED"),
    (samples.wav_header(rate=0), "audio/wav", "SAMPLE_RATE_UNSUPPORTED"),
    (samples.png_claiming(20000, 20000), "image/png", "IMAGE_TOO_LARGE"),
    (samples.png_with_broken_data(), "image/png", "MEDIA_CONTENT_INVALID"),
    (samples.png_claiming(64, 48, rows=4), "image/png", "MEDIA_CONTENT_INVALID"),
    (b"abc", "x" * 20000, "MEDIA_TYPE_UNSUPPORTED"),
])
async def test_a_bad_upload_is_invalid_argument_and_nothing_is_stored(
        storyloom_server: StoryloomServer, caller: Caller, data: bytes, content_type: str, reason: str) -> None:
    media = media_pb2_grpc.MediaServiceStub(storyloom_server.channel)
    request = media_pb2.CreateMediaRequest(content={"content_type": content_type, "data": data})
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await media.CreateMedia(request, metadata=caller.metadata)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert the_error_info(raised.value).reason == reason
    assert len(raised.value.details() or "") < 600
    blobs = storyloom_server.app.settings.data_dir / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


async def test_a_good_picture_is_stored_with_its_real_size(storyloom_server: StoryloomServer, caller: Caller) -> None:
    media = media_pb2_grpc.MediaServiceStub(storyloom_server.channel)
    stored = await media.CreateMedia(media_pb2.CreateMediaRequest(
        content={"content_type": "image/png", "data": samples.png(64, 48)}), metadata=caller.metadata)
    assert (stored.image.width, stored.image.height) == (64, 48)
