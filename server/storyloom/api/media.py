"""MediaService: proto <-> MediaLibrary."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.api import httpbody_pb2
from google.protobuf import duration_pb2

from storyloom.api import downloads
from storyloom.api.auth import caller
from storyloom.api.cache import ReadCache
from storyloom.api.context import Context
from storyloom.api.requests import check_request_id, resource_id, timestamp
from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.media import MediaItem, MediaLibrary
from storyloom.v1 import media_pb2, media_pb2_grpc


def media_proto(item: MediaItem) -> media_pb2.Media:
    message = media_pb2.Media(
        name=item.name, content_type=item.content_type, size_bytes=item.size_bytes, sha256=item.sha256,
        download_path=f"/v1/{item.name}:download", create_time=timestamp(item.create_time),
    )
    if item.content_type.startswith("video/"):
        message.video.CopyFrom(media_pb2.VideoDetails(width=item.width or 0, height=item.height or 0,
                                                      duration=_duration(item.duration_ms or 0)))
    elif item.width is not None:
        message.image.CopyFrom(media_pb2.ImageDetails(width=item.width, height=item.height or 0))
    elif item.duration_ms is not None or item.sample_rate_hertz is not None:
        duration = duration_pb2.Duration()
        duration.FromMilliseconds(item.duration_ms or 0)
        message.audio.CopyFrom(media_pb2.AudioDetails(duration=duration, sample_rate_hertz=item.sample_rate_hertz or 0,
                                                      channel_count=item.channel_count or 0))
    for rendition in item.renditions:
        entry = message.renditions.add(purpose=rendition.purpose, media=rendition.name,
                                       content_type=rendition.content_type, size_bytes=rendition.size_bytes,
                                       sha256=rendition.sha256)
        if rendition.width is not None:
            entry.image.CopyFrom(media_pb2.ImageDetails(width=rendition.width, height=rendition.height or 0))
    return message


def _duration(ms: int) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromMilliseconds(ms)
    return value


class MediaServicer(media_pb2_grpc.MediaServiceServicer):
    def __init__(self, library: MediaLibrary, cache: ReadCache | None = None):
        self._library = library
        # An item changes only by being deleted or gaining a rendition, both announced: its answer is built once
        # and served from memory until then (api/cache.py).
        self._cache = cache if cache is not None else ReadCache()

    async def GetMedia(
        self, request: media_pb2.GetMediaRequest, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        """The bytes; a REST caller's Range and If-None-Match headers are honoured (api/downloads.py)."""
        media_id = resource_id(request.name, "media", "name")
        for field in ("read_offset", "read_limit"):
            if getattr(request, field) < 0:
                raise InvalidArgument(FieldViolation(field, "must not be negative"))
        item = await self._library.get(caller(), media_id)
        etag = downloads.etag_of(item.sha256)
        answer = downloads.Plan(200, request.read_offset, request.read_limit)
        if not (request.read_offset or request.read_limit):  # the fields win over the headers
            answer = downloads.plan(downloads.request_headers(context), etag, item.size_bytes)
        await downloads.send_headers(context, answer, etag=etag, size=item.size_bytes,
                                     cache_control=downloads.IMMUTABLE)
        if answer.status in (304, 416):
            return
        item, chunks = await self._library.read(caller(), media_id, answer.offset, answer.limit)
        first = True
        async for chunk in chunks:
            # The content type rides on the first chunk; Envoy takes the HTTP Content-Type from it.
            yield httpbody_pb2.HttpBody(content_type=item.content_type if first else "", data=chunk)
            first = False
        if first:  # empty range: still tell the client what it is
            yield httpbody_pb2.HttpBody(content_type=item.content_type)

    async def GetMediaInfo(
        self, request: media_pb2.GetMediaInfoRequest, context: Context
    ) -> media_pb2.Media:
        media_id = resource_id(request.name, "media", "name")
        user = caller()
        if (cached := self._cache.owned(f"media/{media_id}", media_pb2.Media, user)) is not None:
            return cached
        since = self._cache.token()
        item = await self._library.get(user, media_id)
        # A rendition goes with its parent (deleted with it, never announced alone).
        parent = (f"media/{item.parent_id}",) if item.parent_id else ()
        return self._cache.put(item.name, user, media_proto(item), since=since, depends=parent)

    async def CreateMedia(
        self, request: media_pb2.CreateMediaRequest, context: Context
    ) -> media_pb2.Media:
        check_request_id(request.request_id)
        if not request.content.content_type:
            raise InvalidArgument(FieldViolation("content.content_type", "is required"))
        item = await self._library.store(caller(), request.content.data, request.content.content_type,
                                         request_id=request.request_id)
        return media_proto(item)
