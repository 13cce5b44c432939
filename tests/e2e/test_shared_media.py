"""Media written through one replica reads through another, and through the gateway in front of it: two server
processes on one PostgreSQL database and one S3 bucket (SeaweedFS)."""

from __future__ import annotations

import hashlib
import random

import grpc
import httpx
from google.api import httpbody_pb2

from storyloom.v1 import media_pb2, media_pb2_grpc
from tests.support.server import caller_in_database

PCM = "audio/L16;rate=16000"


async def download(channel: grpc.aio.Channel, metadata, name: str, offset: int = 0, limit: int = 0) -> bytes:
    stub = media_pb2_grpc.MediaServiceStub(channel)
    chunks = [chunk async for chunk in stub.GetMedia(
        media_pb2.GetMediaRequest(name=name, read_offset=offset, read_limit=limit), metadata=metadata)]
    return b"".join(chunk.data for chunk in chunks)


async def test_media_uploaded_through_one_replica_downloads_through_another_and_the_gateway(
        replicas, shared_env, seaweedfs, start_gateway):
    caller = await caller_in_database(shared_env["STORYLOOM_DATABASE_URL"])
    a, b = replicas(2)
    data = random.Random(11).randbytes(300_000)  # several 64 KiB chunks
    sha256 = hashlib.sha256(data).hexdigest()

    async with grpc.aio.insecure_channel(a.address) as to_a, grpc.aio.insecure_channel(b.address) as to_b:
        media = await media_pb2_grpc.MediaServiceStub(to_a).CreateMedia(media_pb2.CreateMediaRequest(
            content=httpbody_pb2.HttpBody(content_type=PCM, data=data)), metadata=caller.metadata)
        assert media.sha256 == sha256

        whole = await download(to_b, caller.metadata, media.name)
        part = await download(to_b, caller.metadata, media.name, offset=100_000, limit=70_000)
        info = await media_pb2_grpc.MediaServiceStub(to_b).GetMediaInfo(
            media_pb2.GetMediaInfoRequest(name=media.name), metadata=caller.metadata)

    assert hashlib.sha256(whole).hexdigest() == sha256
    assert part == data[100_000:170_000]
    assert info.sha256 == sha256 and info.size_bytes == len(data)
    # The bytes are in the bucket, not on either replica's disk.
    assert not list(a.data_dir.glob("blobs/*/*")) and not list(b.data_dir.glob("blobs/*/*"))

    gateway = await start_gateway(b.port)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
        response = await http.get(media.download_path, headers={"x-api-key": caller.key})
    assert response.status_code == 200, response.text
    assert hashlib.sha256(response.content).hexdigest() == sha256
