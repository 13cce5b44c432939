"""The composition root: builds the store, the domain services and their wiring from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from opentelemetry.trace import TracerProvider

from storyloom.config import ConfigurationError, Settings
from storyloom.domain.accounts import Accounts
from storyloom.domain.books import Books
from storyloom.domain.bundles import Bundles
from storyloom.domain.conversations import ConversationLimits, Conversations
from storyloom.domain.identities import Identities
from storyloom.domain.illustrations import Illustrations
from storyloom.domain.media import BlobStore, BlobStoreUnavailable, MediaLibrary
from storyloom.domain.memory import Memories
from storyloom.domain.ports.embedding import Embedder
from storyloom.domain.ports.identity import TokenVerifier
from storyloom.domain.ports.notifier import LocalNotifier
from storyloom.domain.ports.story import Illustrator, Narrator
from storyloom.domain.ports.text import StoryTextEngine
from storyloom.domain.stories import Stories, StoryEngines
from storyloom.domain.tasks import TaskRunner, new_worker_id
from storyloom.domain.videos import StoryVideos
from storyloom.domain.voice import SpeechEngines, Voice, VoiceLimits
from storyloom.engines.images.pictures import thumbnail
from storyloom.engines.media.inspector import MediaInspector
from storyloom.engines.packaging.books import PictureBooks
from storyloom.engines.packaging.documents import DocumentTextReader
from storyloom.engines.packaging.renditions import MediaRenditions
from storyloom.engines.packaging.zipstream import ZipArchiver
from storyloom.engines.video.align import PauseAligner
from storyloom.engines.video.encoder import PyAvVideoEncoder
from storyloom.observability.engines import TimedIllustrator, TimedNarrator, TimedSpeechToText
from storyloom.observability.metrics import Metrics
from storyloom.observability.telemetry import Observability
from storyloom.observability.tracing import provider_from_env
from storyloom.store.accounts import SqlAccountRepository
from storyloom.store.blobs import FileBlobStore
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import Database
from storyloom.store.identities import SqlIdentityRepository
from storyloom.store.media import SqlMediaRepository
from storyloom.store.pg_notifier import PostgresNotifier
from storyloom.store.procrastinate_dispatch import ProcrastinateDispatcher
from storyloom.store.progress import SqlStageTimingRepository
from storyloom.store.s3_blobs import S3BlobStore
from storyloom.store.stories import SqlStoryRepository
from storyloom.store.tasks import SqlTaskRepository
from storyloom.store.videos import SqlVideoRepository
from storyloom.store.voice import SqlMemoryRepository, SqlVoiceSessionRepository

log = logging.getLogger(__name__)

DEV_KEY_FILE = "dev-api-key"


@dataclasses.dataclass
class App:
    settings: Settings
    db: Database
    accounts: Accounts
    tasks: TaskRunner
    media: MediaLibrary
    text_engine: StoryTextEngine
    conversations: Conversations
    stories: Stories
    bundles: Bundles
    books: Books
    illustrations: Illustrations
    engines: StoryEngines
    secret: bytes
    memories: Memories
    voice: Voice
    identities: Identities
    notifier: LocalNotifier | PostgresNotifier
    observability: Observability
    videos: StoryVideos
    _warming: asyncio.Task[None] | None = None

    def warm_up_in_background(self) -> None:
        """Loads the speech models (spoken replies' and the story narrator's) without holding up the start."""
        async def warm() -> None:
            try:
                await self.voice.engines.warm_up()
                await self.engines.narrator.warm_up()
            except Exception:
                log.exception("warming up the speech models failed; they load on first use")

        self._warming = asyncio.create_task(warm(), name="speech-warm-up")

    async def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
        await self.tasks.shutdown()
        await self.conversations.aclose()
        await self.accounts.aclose()
        await self.notifier.aclose()
        await self.identities.aclose()
        await self.voice.aclose()
        await self.memories.aclose()
        await self.text_engine.aclose()
        await self.engines.illustrator.aclose()
        await self.engines.narrator.aclose()
        await self.db.close()
        self.observability.close()


async def build_app(settings: Settings, *, text_engine: StoryTextEngine | None = None,
                    tracer_provider: TracerProvider | None = None) -> App:
    """Opens and migrates the database and builds the services. Task kinds are registered on
    `app.tasks` (by plugins) before `start()`, so tasks a crash left behind find their handler.

    `text_engine` replaces the one the settings choose (tests pass an engine pointed at a fake);
    the app owns it and closes it. `tracer_provider` replaces the one OTEL_EXPORTER_OTLP_ENDPOINT makes (tests
    pass one with the SDK's in-memory exporter)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, settings.sqlite_synchronous)
    secret = _secret(settings, shared=not db.is_sqlite)
    blobs = build_blob_store(settings, shared=not db.is_sqlite)
    await db.migrate()
    # PostgreSQL means replicas: a write on one wakes the watchers on all (LISTEN/NOTIFY).
    notifier = LocalNotifier() if db.is_sqlite else PostgresNotifier(db)
    observability = Observability(Metrics(), tracer_provider or provider_from_env())
    observability.metrics.watch_pool(db.pool_status)
    worker_id = new_worker_id()
    tasks = TaskRunner(
        SqlTaskRepository(db),
        concurrency=settings.task_concurrency,
        retention=dt.timedelta(seconds=settings.task_retention_seconds),
        max_attempts=settings.task_max_attempts,
        # SQLite is one process's: it dispatches in-process. PostgreSQL means replicas: procrastinate's job queue.
        dispatcher=None if db.is_sqlite else ProcrastinateDispatcher(
            db, worker_name=worker_id, lease_seconds=settings.task_lease_seconds),
        worker_id=worker_id,
        run_tasks=settings.run_tasks,
        notifier=notifier,
        telemetry=observability,
        max_live_per_user=settings.max_live_tasks_per_user,
    )
    text_engine = text_engine or build_text_engine(settings)
    renditions = MediaRenditions()
    media = MediaLibrary(SqlMediaRepository(db), blobs, MediaInspector(),
                         thumbnailer=lambda png, side: thumbnail(png, side).png, converter=renditions,
                         notifier=notifier)
    # What a story or video task stored and was killed or cancelled before attaching goes once the task has ended.
    tasks.on_clean_up(media.sweep_unattached)
    conversations = Conversations(SqlConversationRepository(db), tasks, text_engine,
                                  ConversationLimits(messages_per_minute=settings.messages_per_minute,
                                                     concurrent_replies=settings.concurrent_replies,
                                                     admitted_replies=settings.admitted_replies,
                                                     abandoned_reply_seconds=settings.abandoned_reply_seconds),
                                  notifier=notifier)
    narrator = build_narrator(settings)
    speech = build_speech(hangover_seconds=settings.voice_hangover_seconds,
                          window_seconds=settings.voice_recognizer_window_seconds)
    engines = StoryEngines(writer=text_engine, illustrator=TimedIllustrator(build_illustrator(settings), observability),
                           narrator=TimedNarrator(narrator, observability))
    app = App(
        settings=settings,
        db=db,
        accounts=Accounts(SqlAccountRepository(db), notifier=notifier),
        tasks=tasks,
        media=media,
        text_engine=text_engine,
        conversations=conversations,
        stories=(stories := Stories(SqlStoryRepository(db), tasks, media, conversations, engines,
                                    stage_timings=SqlStageTimingRepository(db),
                                    scene_concurrency=settings.story_scene_concurrency, notifier=notifier)),
        bundles=Bundles(stories, media, ZipArchiver()),
        books=Books(stories, media, PictureBooks(), renditions),
        illustrations=Illustrations(stories, media, DocumentTextReader()),
        engines=engines,
        secret=secret,
        memories=(memories := Memories(SqlMemoryRepository(db), build_embedder(settings))),
        voice=Voice(SqlVoiceSessionRepository(db), conversations, memories, media,
                    dataclasses.replace(speech, stt=TimedSpeechToText(speech.stt, observability)),
                    VoiceLimits(idle_seconds=settings.voice_idle_seconds,
                                finished_hangover_seconds=settings.voice_finished_hangover_seconds,
                                unfinished_hangover_seconds=settings.voice_unfinished_hangover_seconds)),
        identities=Identities(SqlIdentityRepository(db), build_token_verifier(settings)),
        notifier=notifier,
        observability=observability,
        videos=StoryVideos(SqlVideoRepository(db), tasks, stories, media, PyAvVideoEncoder(), PauseAligner()),
    )
    for module in settings.plugins:
        importlib.import_module(module).register(app)
    return app


@contextlib.asynccontextmanager
async def admin_accounts(settings: Settings) -> AsyncIterator[Accounts]:
    """Users and keys for the command line, on the migrated database; a revocation is announced to every replica
    (PostgreSQL) so none keeps the key in its cache."""
    db = Database(settings.resolved_database_url, settings.sqlite_synchronous)
    try:
        await db.migrate()
        yield Accounts(SqlAccountRepository(db), notifier=LocalNotifier() if db.is_sqlite else PostgresNotifier(db))
    finally:
        await db.close()


async def start(app: App) -> None:
    try:
        await app.media.start()
    except BlobStoreUnavailable as exc:
        raise ConfigurationError(str(exc)) from exc
    await app.notifier.start()
    await app.accounts.start()
    await app.tasks.start()
    await app.stories.recover()
    await app.conversations.recover()
    await app.voice.start()
    if app.settings.voice_warm_up:
        app.warm_up_in_background()
    if isinstance(app.text_engine, _WarmsUp):  # (the offline storyteller: milliseconds, before the first reply)
        await app.text_engine.warm_up()
    await check_models(app)


@runtime_checkable
class _WarmsUp(Protocol):
    """An engine that does once, on start, what its first call would pay for otherwise."""

    async def warm_up(self) -> None: ...


@runtime_checkable
class _ChecksItsModel(Protocol):
    """An engine on a hosted model (Gemini) that can say whether its configured model exists."""

    async def check_model(self) -> bool | None: ...


async def check_models(app: App) -> None:
    """Asks each hosted engine whether its model exists; those that do not log a warning naming the ones that do.

    Advice only: the server starts either way (each check gives up after a few seconds)."""
    engines: tuple[object, ...] = (app.text_engine, app.engines.illustrator, app.memories.embedder)
    await asyncio.gather(*(engine.check_model() for engine in engines if isinstance(engine, _ChecksItsModel)))


def build_text_engine(settings: Settings) -> StoryTextEngine:
    """Gemini when asked for, or on "auto" when GEMINI_API_KEY is set; else the offline storyteller."""
    choice = settings.text_engine
    if choice == "gemini" or (choice == "auto" and os.environ.get("GEMINI_API_KEY")):
        from storyloom.engines.text.gemini import GeminiTextEngine

        log.info("text engine: gemini")
        return GeminiTextEngine.from_env()
    if choice not in ("auto", "offline"):
        raise ValueError(f"unknown text engine {choice!r}: use auto, gemini or offline")
    from storyloom.engines.text.offline import OfflineStoryteller

    log.info("text engine: offline storyteller")
    return OfflineStoryteller(word_delay=settings.offline_word_delay_seconds)


async def bootstrap_dev_user(app: App) -> str | None:
    """On a first start with no users, creates a development user and returns its key."""
    if not app.settings.dev_bootstrap or await app.accounts.has_users():
        return None
    user = await app.accounts.create_user("dev")
    key = await app.accounts.create_key(user.id)
    path = app.settings.data_dir / DEV_KEY_FILE
    path.write_text(key + "\n")
    path.chmod(0o600)
    log.info("created development user", extra={"user": user.id, "key_file": str(path)})
    return key


def build_token_verifier(settings: Settings) -> TokenVerifier | None:
    """The JWT verifier for the configured token issuers; None when there are none (API keys only)."""
    if not settings.jwt_issuers:
        return None
    from storyloom.engines.identity.jwt import IssuerConfig, JwtVerifier

    log.info("sign-in tokens accepted", extra={"issuers": ",".join(i.issuer for i in settings.jwt_issuers)})
    return JwtVerifier([IssuerConfig(**dataclasses.asdict(i)) for i in settings.jwt_issuers],
                       clock_skew_seconds=settings.jwt_clock_skew_seconds, cache_seconds=settings.jwks_cache_seconds,
                       refresh_cooldown_seconds=settings.jwks_refresh_cooldown_seconds)


def build_illustrator(settings: Settings) -> Illustrator:
    """Gemini image generation on the same terms as the text engine; else procedural pictures."""
    if settings.text_engine == "gemini" or (settings.text_engine == "auto" and os.environ.get("GEMINI_API_KEY")):
        from storyloom.engines.images.gemini import GeminiIllustrator

        return GeminiIllustrator.from_env()
    from storyloom.engines.images.procedural import ProceduralIllustrator

    return ProceduralIllustrator()


def build_embedder(settings: Settings) -> Embedder | None:
    """Gemini embeddings for memory search on the same terms as the text engine; else None (full-text search)."""
    if settings.text_engine == "gemini" or (settings.text_engine == "auto" and os.environ.get("GEMINI_API_KEY")):
        from storyloom.engines.gemini_embedder import GeminiEmbedder

        return GeminiEmbedder.from_env()
    return None


def build_narrator(settings: Settings) -> Narrator:
    from storyloom.engines.speech.piper_tts import PiperNarrator

    return PiperNarrator(max_concurrency=settings.story_scene_concurrency)


def build_speech(*, hangover_seconds: float = 0.4, window_seconds: float = 10.0) -> SpeechEngines:
    """The offline speech engines (each loads its model on first use). Spoken replies have a piper voice of their own,
    one synthesis at a time on all cores: a reply's first clause must not wait for a story's narration slot, nor be
    synthesized on the one thread each of a story's concurrent scene narrations gets."""
    from storyloom.engines.speech.audio_codecs import AvAudioCodecs
    from storyloom.engines.speech.langid import FastTextLanguageIdentifier, LazyLanguageIdentifier
    from storyloom.engines.speech.piper_tts import VOICE_ALIASES, VOICE_NAME, PiperNarrator
    from storyloom.engines.speech.stt import WhisperSpeechToText
    from storyloom.engines.speech.vad import SileroVad

    return SpeechEngines(
        stt=WhisperSpeechToText(window_seconds=window_seconds), vad=SileroVad(min_silence_seconds=hangover_seconds),
        langid=LazyLanguageIdentifier(FastTextLanguageIdentifier),
        tts=PiperNarrator(), codecs=AvAudioCodecs(), voices=VOICE_ALIASES | {VOICE_NAME}, default_voice=VOICE_NAME,
        tts_at_rate=lambda rate: PiperNarrator(length_scale=1 / rate))


def build_blob_store(settings: Settings, *, shared: bool) -> BlobStore:
    """Media blobs in data_dir/blobs, in another directory (file:///path), or on S3 (s3://bucket/prefix)."""
    url = settings.media_url
    scheme = urlsplit(url).scheme
    if scheme == "s3":
        # Keys must be given: without them the S3 client would ask the cloud's instance metadata service.
        key_id = settings.s3_access_key_id or os.environ.get("AWS_ACCESS_KEY_ID", "")
        secret = settings.s3_secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        if not key_id or not secret:
            raise ConfigurationError("media on S3 needs credentials: set STORYLOOM_S3_ACCESS_KEY_ID and "
                                     "STORYLOOM_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        try:
            return S3BlobStore(url, endpoint=settings.s3_endpoint, region=settings.s3_region, access_key_id=key_id,
                               secret_access_key=secret)
        except ValueError as exc:
            raise ConfigurationError(f"STORYLOOM_MEDIA_URL: {exc}") from exc
    if url and scheme != "file":
        raise ConfigurationError(f"STORYLOOM_MEDIA_URL must be empty, file:///path or s3://bucket/prefix, not {url!r}")
    if shared:
        log.warning("media blobs are on local disk while the database is shared: every replica needs the same "
                    "directory, or set STORYLOOM_MEDIA_URL=s3://bucket/prefix")
    return FileBlobStore(Path(urlsplit(url).path) if url else settings.data_dir / "blobs")


def _secret(settings: Settings, *, shared: bool) -> bytes:
    """The server secret that signs page tokens, from STORYLOOM_SECRET or created once on disk. A shared database
    (PostgreSQL) means replicas, which must all sign alike: there the secret must be given."""
    if settings.secret:
        return settings.secret.encode()
    if shared:
        raise ConfigurationError(
            "STORYLOOM_SECRET is required with PostgreSQL: every replica must sign page tokens with the same "
            "secret. Set it to the same random value everywhere, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.")
    path = settings.data_dir / "secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    return path.read_bytes()
