"""MediaService against a real server: upload, info, chunked download, ranges, ownership."""

from __future__ import annotations

import hashlib
import uuid

import grpc
import pytest
from google.api import httpbody_pb2

from storyloom.domain.media import CHUNK_BYTES
from storyloom.v1 import media_pb2, media_pb2_grpc
from tests.support.errors import error_info
from tests.support.media import png_bytes, wav_bytes


@pytest.fixture
def stub(storyloom_server) -> media_pb2_grpc.MediaServiceStub:
    return media_pb2_grpc.MediaServiceStub(storyloom_server.channel)


async def upload(stub, caller, data: bytes, content_type: str, request_id: str = "") -> media_pb2.Media:
    return await stub.CreateMedia(media_pb2.CreateMediaRequest(
        content=httpbody_pb2.HttpBody(content_type=content_type, data=data), request_id=request_id),
        metadata=caller.metadata)


async def download(stub, caller, name: str, offset: int = 0, limit: int = 0) -> tuple[str, list[bytes]]:
    chunks = [c async for c in stub.GetMedia(media_pb2.GetMediaRequest(name=name, read_offset=offset, read_limit=limit),
                                             metadata=caller.metadata)]
    return chunks[0].content_type, [c.data for c in chunks]


async def test_an_uploaded_picture_downloads_in_chunks_with_the_same_sha256(stub, caller):
    data = png_bytes(300, 200)
    assert len(data) > CHUNK_BYTES  # so the download really is chunked
    media = await upload(stub, caller, data, "image/png")
    assert media.sha256 == hashlib.sha256(data).hexdigest() and media.size_bytes == len(data)
    assert (media.image.width, media.image.height) == (300, 200)
    assert media.download_path == f"/v1/{media.name}:download"

    content_type, chunks = await download(stub, caller, media.name)
    assert content_type == "image/png"
    assert len(chunks) > 1 and all(len(c) <= CHUNK_BYTES for c in chunks)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == media.sha256

    info = await stub.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=media.name), metadata=caller.metadata)
    assert info == media


async def test_a_partial_download_resumes_from_an_offset(stub, caller):
    data = wav_bytes(3.0)
    media = await upload(stub, caller, data, "audio/wav")
    assert media.audio.duration.ToMilliseconds() == 3000 and media.audio.sample_rate_hertz == 16000
    _, head = await download(stub, caller, media.name, limit=1000)
    _, tail = await download(stub, caller, media.name, offset=1000)
    assert b"".join(head) == data[:1000] and b"".join(head + tail) == data
    with pytest.raises(grpc.aio.AioRpcError) as past_end:
        await download(stub, caller, media.name, offset=len(data) + 1)
    assert past_end.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_raw_pcm_needs_its_rate_and_gets_its_duration(stub, caller):
    media = await upload(stub, caller, b"\x00\x00" * 8000, "audio/L16;rate=16000")
    assert media.content_type == "audio/L16;rate=16000" and media.audio.duration.ToMilliseconds() == 500
    with pytest.raises(grpc.aio.AioRpcError) as no_rate:
        await upload(stub, caller, b"\x00\x00" * 10, "audio/L16")
    assert no_rate.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"not a png", "image/png", "MEDIA_CONTENT_INVALID"),
    (wav_bytes(0.1), "image/png", "MEDIA_CONTENT_INVALID"),
    (b"RIFF....", "audio/wav", "MEDIA_CONTENT_INVALID"),
    (b"GIF89a", "image/gif", "MEDIA_TYPE_UNSUPPORTED"),
    (b"PK\x03\x04", "application/pdf", "MEDIA_CONTENT_INVALID"),
    (b"", "image/png", "INVALID_ARGUMENT"),
])
async def test_bytes_that_are_not_what_they_claim_are_refused(stub, caller, data, content_type, reason):
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await upload(stub, caller, data, content_type)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(bad.value).reason == reason


async def test_a_retried_upload_with_the_same_request_id_creates_one_media(stub, caller):
    request_id = str(uuid.uuid4())
    first = await upload(stub, caller, png_bytes(10, 10), "image/png", request_id)
    again = await upload(stub, caller, png_bytes(10, 10), "image/png", request_id)
    assert again.name == first.name


async def test_identical_bytes_share_one_blob_but_stay_separate_media(storyloom_server, stub, caller):
    data = png_bytes(20, 20, seed=5)
    one, two = await upload(stub, caller, data, "image/png"), await upload(stub, caller, data, "image/png")
    assert one.name != two.name and one.sha256 == two.sha256
    blobs = [p for p in (storyloom_server.app.settings.data_dir / "blobs").rglob("*") if p.is_file()]
    assert sum(1 for p in blobs if p.parent.name + p.name == one.sha256) == 1


async def test_another_users_media_is_not_found(storyloom_server, stub, caller):
    media = await upload(stub, caller, png_bytes(10, 10), "image/png")
    stranger = await storyloom_server.new_caller("stranger")
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await download(stub, stranger, media.name)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as hidden_info:
        await stub.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=media.name), metadata=stranger.metadata)
    assert error_info(hidden_info.value).reason == "RESOURCE_NOT_FOUND"
