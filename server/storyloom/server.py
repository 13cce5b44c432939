"""The grpc.aio server: services, reflection, health, limits, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from storyloom.api.auth import ApiInterceptor
from storyloom.api.cache import ReadCache
from storyloom.api.conversations import ConversationServicer, message_proto
from storyloom.api.media import MediaServicer
from storyloom.api.requests import PageTokens
from storyloom.api.sizes import GRPC_CEILING_FACTOR
from storyloom.api.stories import StoryFiles, StoryReader, StoryServicer
from storyloom.api.tasks import TaskServicer
from storyloom.api.videos import video_proto
from storyloom.api.voice import VoiceServicer
from storyloom.app import App, bootstrap_dev_user, build_app, start
from storyloom.config import Settings
from storyloom.domain.conversations import REPLY_KIND
from storyloom.domain.errors import NotFound
from storyloom.domain.stories import CREATE_KIND, SCENE_READY
from storyloom.domain.tasks import Task, TaskPart
from storyloom.domain.videos import VIDEO_KIND
from storyloom.v1 import (
    conversation_pb2,
    conversation_pb2_grpc,
    media_pb2,
    media_pb2_grpc,
    story_pb2,
    story_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
    video_pb2,
    voice_pb2,
    voice_pb2_grpc,
)

log = logging.getLogger(__name__)

# How long a replica on PostgreSQL trusts a finished resource's copy before reading it again (see start_server).
CACHE_MAX_AGE_SECONDS = 60.0
SERVICE_NAMES = (
    conversation_pb2.DESCRIPTOR.services_by_name["ConversationService"].full_name,
    story_pb2.DESCRIPTOR.services_by_name["StoryService"].full_name,
    voice_pb2.DESCRIPTOR.services_by_name["VoiceService"].full_name,
    task_pb2.DESCRIPTOR.services_by_name["TaskService"].full_name,
    media_pb2.DESCRIPTOR.services_by_name["MediaService"].full_name,
)


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        # grpc's own limit is a ceiling above ours: between them, the interceptor refuses a message with a status
        # that says why (api/sizes.py); grpc's refusal has no details.
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes * GRPC_CEILING_FACTOR),
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
        # Ping idle connections so dead mobile clients are noticed within ~40 s, and let
        # clients ping us every 10 s (streams behind NATs) without being told off.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_connection_idle_ms", 30 * 60_000),
    ]


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS for the port when a certificate and key are set; with a client CA, callers must show a certificate it
    signed (mTLS: the gateway in front of us, say). None: plaintext."""
    if not settings.tls_cert_file:
        return None
    chain = Path(settings.tls_cert_file).read_bytes()
    key = Path(settings.tls_key_file).read_bytes()
    client_ca = Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


def interceptors(app: App) -> list[grpc.aio.ServerInterceptor]:
    """Tracing first (when on), so its span, continued from the caller's `traceparent`, holds the whole call; then
    sign-in, errors, the access log and the call metrics."""
    chain: list[grpc.aio.ServerInterceptor] = []
    provider = app.observability.provider
    if provider is not None:
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        chain.append(aio_server_interceptor(tracer_provider=provider))  # type: ignore[no-untyped-call]  # untyped lib
    chain.append(ApiInterceptor(app.accounts, app.identities, app.observability.metrics,
                                max_streams_per_user=app.settings.max_streams_per_user,
                                max_message_bytes=app.settings.max_receive_message_bytes))
    return chain


class RunningServer:
    """A started server, its bound port and its health service."""

    def __init__(self, server: grpc.aio.Server, port: int, health_servicer: health.aio.HealthServicer,
                 metrics_port: int | None = None, cache: ReadCache | None = None):
        self.server = server
        self.port = port
        self.health = health_servicer
        # Where /metrics is served (STORYLOOM_METRICS_ADDRESS), if it is.
        self.metrics_port = metrics_port
        # The finished resources kept in memory (api/cache.py).
        self.cache = cache if cache is not None else ReadCache()

    async def stop(self, grace: float) -> None:
        # NOT_SERVING first, so balancers (Envoy's health checks) stop sending new calls;
        # then refuse new RPCs and give in-flight ones `grace` seconds to finish.
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_server(app: App) -> RunningServer:
    server = grpc.aio.server(interceptors=interceptors(app), options=server_options(app.settings))
    tokens = PageTokens(app.secret)
    async def reply_result(task: Task) -> conversation_pb2.Message | None:
        message = await app.conversations.message(str(task.params["message_id"]))
        return message_proto(message) if message else None

    # Finished stories, tasks and media, served from memory until a change is announced (api/cache.py). On
    # PostgreSQL a copy is also read again after a while: a notice lost without the connection seen to drop.
    cache = ReadCache(max_age=None if app.db.is_sqlite else CACHE_MAX_AGE_SECONDS)
    cache.attach(app.notifier)
    stories = StoryReader(app.stories, cache)

    async def story_result(task: Task) -> story_pb2.Story | None:
        try:
            return await stories.story(task.user_id, str(task.params["story_id"]))
        except NotFound:
            return None

    async def video_result(task: Task) -> video_pb2.StoryVideo | None:
        video = await app.videos.find(str(task.params["video_id"]))
        return video_proto(video, await app.videos.media(video)) if video else None

    async def scene_part(user_id: str, part: TaskPart) -> story_pb2.Scene | None:
        return await stories.scene(user_id, str(part.ref["story_id"]), int(part.ref["index"]))

    task_servicer = TaskServicer(app.tasks, tokens, {REPLY_KIND: reply_result, CREATE_KIND: story_result,
                                                     VIDEO_KIND: video_result}, cache=cache,
                                 parts={SCENE_READY: scene_part}, target_results=(CREATE_KIND,))
    task_pb2_grpc.add_TaskServiceServicer_to_server(task_servicer, server)
    media_pb2_grpc.add_MediaServiceServicer_to_server(MediaServicer(app.media, cache), server)
    conversation_pb2_grpc.add_ConversationServiceServicer_to_server(
        ConversationServicer(app.conversations, tokens), server)
    story_pb2_grpc.add_StoryServiceServicer_to_server(StoryServicer(
        app.stories, task_servicer, tokens, app.videos, stories,
        files=StoryFiles(bundles=app.bundles, books=app.books, illustrations=app.illustrations)), server)
    voice_pb2_grpc.add_VoiceServiceServicer_to_server(VoiceServicer(app.voice, app.memories), server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    credentials = server_credentials(app.settings)
    if credentials is None:
        port = server.add_insecure_port(app.settings.address)
    else:
        port = server.add_secure_port(app.settings.address, credentials)
    await server.start()
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    metrics_port = None
    if app.settings.metrics_address:
        metrics_port = app.observability.metrics.serve(app.settings.metrics_address)
    return RunningServer(server, port, health_servicer, metrics_port, cache)


def freeze_startup_heap() -> None:
    """Puts what starting made (modules, the schema, protobuf descriptors, engines: about 150,000 objects) out of the
    garbage collector's walks, once the process serves. A full collection walked all of it, stopping every call in
    flight for 70-80 ms every 20-30 s of read load; now it walks what serving made (bench_reads' GC line). What
    startup made and later drops is never freed: a bounded cost, the size of one startup's garbage at most."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    app = await build_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running: RunningServer | None = None
    try:
        key = await bootstrap_dev_user(app)
        await start(app)
        running = await start_server(app)
        freeze_startup_heap()
        host = settings.address.rsplit(":", 1)[0]
        log.info("serving", extra={"address": f"{host}:{running.port}", "database": app.db.url.get_backend_name(),
                                   "tls": "mtls" if settings.tls_client_ca_file else bool(settings.tls_cert_file)})
        if key:
            print(f"\nDevelopment API key (also in {settings.data_dir / 'dev-api-key'}):\n  {key}\n", flush=True)
        if running.metrics_port is not None:
            host = settings.metrics_address.rpartition(":")[0] or "127.0.0.1"
            log.info("metrics", extra={"url": f"http://{host}:{running.metrics_port}/metrics"})
            if settings.port_file:  # before the port file, whose appearance says the server is up
                settings.port_file.with_name(settings.port_file.name + ".metrics").write_text(str(running.metrics_port))
        if settings.port_file:
            settings.port_file.write_text(str(running.port))
        await stop.wait()
        log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    finally:
        if running is not None:
            await running.stop(settings.shutdown_grace_seconds)
        with contextlib.suppress(Exception):
            await app.close()
        log.info("stopped")


async def work(settings: Settings, ready_file: Path | None = None) -> None:
    """A worker: runs tasks (claimed from the shared database) and serves nothing. `ready_file` gets its worker id
    once it is claiming work."""
    app = await build_app(dataclasses.replace(settings, run_tasks=True))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await start(app)
        freeze_startup_heap()
        log.info("working", extra={"worker": app.tasks.worker_id, "database": app.db.url.get_backend_name()})
        if ready_file:
            await asyncio.to_thread(ready_file.write_text, app.tasks.worker_id)
        await stop.wait()
        log.info("shutting down")
    finally:
        with contextlib.suppress(Exception):
            await app.close()  # hands the running tasks back
        log.info("stopped")
