"""Settings, read from the environment (STORYLOOM_*) and overridden by command-line flags."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

# The signature algorithms a token issuer may use: asymmetric only, so a JWKS (public keys) is all we need and
# no shared secret can be confused with a public key (RFC 8725, 3.1).
TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"STORYLOOM_{name}", default)


class ConfigurationError(ValueError):
    """Settings the server cannot run with; the command line prints the message and exits."""


@dataclasses.dataclass(frozen=True)
class TokenIssuerSettings:
    """One identity provider whose ID tokens (JWTs) sign users in (see the README's "Sign-in with JWT")."""

    # The exact `iss` of its tokens, e.g. https://securetoken.google.com/PROJECT (Firebase).
    issuer: str
    # Accepted `aud` values; a token must name one of them. Empty: `aud` is not checked (Clerk's session tokens).
    audiences: tuple[str, ...] = ()
    # Where its public keys are published; fetched, cached and fetched again for a key id not seen before.
    jwks_url: str = ""
    # A JWKS file: the keys when there is no URL, and a fallback when the URL cannot be reached.
    jwks_file: str = ""
    algorithms: tuple[str, ...] = TOKEN_ALGORITHMS

    @classmethod
    def from_json(cls, entry: object) -> TokenIssuerSettings:
        if not isinstance(entry, dict):
            raise ValueError(f"a token issuer must be a JSON object, got {entry!r}")
        unknown = set(entry) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"token issuer {entry.get('issuer')!r}: unknown keys {sorted(unknown)}")
        audiences = entry.get("audiences", ())
        algorithms = entry.get("algorithms", TOKEN_ALGORITHMS)
        issuer = cls(issuer=str(entry.get("issuer") or ""),
                     audiences=(audiences,) if isinstance(audiences, str) else tuple(map(str, audiences)),
                     jwks_url=str(entry.get("jwks_url") or ""), jwks_file=str(entry.get("jwks_file") or ""),
                     algorithms=(algorithms,) if isinstance(algorithms, str) else tuple(map(str, algorithms)))
        if not issuer.issuer:
            raise ValueError(f"a token issuer needs its `issuer`: {entry!r}")
        if not (issuer.jwks_url or issuer.jwks_file):
            raise ValueError(f"token issuer {issuer.issuer!r} needs a `jwks_url` or a `jwks_file`")
        if not issuer.algorithms or not set(issuer.algorithms) <= set(TOKEN_ALGORITHMS):
            raise ValueError(f"token issuer {issuer.issuer!r}: algorithms must be among {TOKEN_ALGORITHMS}, "
                             f"got {list(issuer.algorithms)}")
        return issuer


def token_issuers_from_json(text: str) -> tuple[TokenIssuerSettings, ...]:
    """Issuers from JSON: a list of objects (or one object) with the fields of TokenIssuerSettings."""
    entries = json.loads(text) if text.strip() else []
    issuers = tuple(TokenIssuerSettings.from_json(e) for e in (entries if isinstance(entries, list) else [entries]))
    if len({i.issuer for i in issuers}) != len(issuers):
        raise ValueError("each token issuer may be listed once")
    return issuers


def _token_issuers() -> tuple[TokenIssuerSettings, ...]:
    inline, file = _env("JWT_ISSUERS", ""), _env("JWT_ISSUERS_FILE", "")
    if inline and file:
        raise ValueError("set STORYLOOM_JWT_ISSUERS or STORYLOOM_JWT_ISSUERS_FILE, not both")
    return token_issuers_from_json(Path(file).read_text() if file else inline)


@dataclasses.dataclass(frozen=True)
class Settings:
    # Where to listen for gRPC; port 0 picks a free port (see port_file).
    address: str = "127.0.0.1:50051"
    # Everything the server keeps on disk: the SQLite database, media blobs, secrets.
    data_dir: Path = Path("data")
    # SQLAlchemy URL; empty means SQLite in data_dir.
    database_url: str = ""
    # SQLite's durability: NORMAL (WAL) survives a crash of the process, FULL also a power loss (README).
    sqlite_synchronous: str = "NORMAL"
    # Written with the bound port once the server is serving (for port 0).
    port_file: Path | None = None
    # Seconds in-flight calls may take to finish after SIGTERM/SIGINT.
    shutdown_grace_seconds: float = 10.0
    # How many tasks run at once; the rest wait in PENDING.
    task_concurrency: int = 4
    # A story's scenes narrated at once (pictures are painted meanwhile), and sentences synthesized at once in all,
    # lowest scene first (one per core: a piper synthesis on one thread each beats one on every core by ~1.3x of
    # CPU); 1 is the sequential pipeline (one scene after the other, one sentence at a time on every core).
    story_scene_concurrency: int = min(4, os.cpu_count() or 1)
    # Finished tasks and their event logs are deleted this long after they end.
    task_retention_seconds: float = 7 * 24 * 3600.0
    # A task interrupted this many times by crashes is failed instead (a graceful stop does not count).
    task_max_attempts: int = 3
    # With PostgreSQL (several workers): a worker silent this long is presumed dead and its tasks resume elsewhere.
    task_lease_seconds: float = 10.0
    # With PostgreSQL: how often a worker says it is alive, and looks for aborted jobs it missed a notice of.
    task_heartbeat_seconds: float = 0.5
    # Whether this process runs tasks (a worker) besides serving RPCs; `python -m storyloom worker` only runs tasks.
    run_tasks: bool = True
    # On first start with no users, create a development user and print its key.
    dev_bootstrap: bool = True
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    # Prometheus /metrics on host:port (port 0: any free one); empty: no metrics endpoint.
    metrics_address: str = ""
    # Which text engine writes replies: "auto" (Gemini when GEMINI_API_KEY is set, else the
    # offline storyteller), "gemini" or "offline".
    text_engine: str = "auto"
    # Pause between the offline storyteller's words, so its replies stream visibly like a model's.
    offline_word_delay_seconds: float = 0.015
    # Per-user limit on chat messages.
    messages_per_minute: int = 10
    # Chat replies this process writes at once, and takes on at once (writing or queued); past the second a new
    # message is refused with RESOURCE_EXHAUSTED and a RetryInfo at once. 512 taken on: on 2 cores a burst of 500
    # messages is served, and of 1,000 the rest is refused in milliseconds instead of waiting a minute. As many
    # written at once: a reply waits on the model, not the CPU; with 64 writers 500 streams' first text waited for a
    # writer (p95 1.4 s), with 512 p95 0.3 s at the same replies/s (bench/bench_chat.py --concurrent-replies).
    concurrent_replies: int = 512
    admitted_replies: int = 512
    # A reply no one reads (its last stream gone) stops unless a stream re-attaches within this many seconds.
    abandoned_reply_seconds: float = 30.0
    # Per-user quotas (0: none): tasks pending or running (a story being made), and open streams on one server.
    max_live_tasks_per_user: int = 20
    max_streams_per_user: int = 32
    # A voice session's in-memory state (speech detector, audio) is dropped this long after its last stream ends.
    voice_idle_seconds: float = 300.0
    # The pause that ends an utterance; and the shorter one that ends it when its transcript sounds finished (a
    # closing stop, no trailing "and..."); 0 turns that off.
    voice_hangover_seconds: float = 0.4
    voice_finished_hangover_seconds: float = 0.2
    # The longer pause a turn that sounds unfinished (a trailing "and", "the", "um", a comma) waits for before it
    # ends; 0: the detector's hangover ends it.
    voice_unfinished_hangover_seconds: float = 1.0
    # The shortest audio window (seconds) the recognizer encodes for partial and final transcripts of a spoken
    # turn: the speech and a second of silence after it, at least this long. Whisper's own is 30 s; 10 s is ~4x
    # faster with the same words on our benchmark utterances (see engines/speech/stt.py).
    voice_recognizer_window_seconds: float = 10.0
    # Load the speech engines in the background at start, so the first voice turn is as fast as the next.
    voice_warm_up: bool = False
    # Modules with a `register(app)` function, imported at start (task kinds, engines).
    plugins: tuple[str, ...] = ()
    # Signs page tokens. Generated once in data_dir when empty; required with PostgreSQL, where replicas must agree.
    secret: str = dataclasses.field(default="", repr=False)
    # Where media blobs live: empty for data_dir/blobs on local disk, or s3://bucket/prefix on an S3-compatible store.
    media_url: str = ""
    # The S3 endpoint (e.g. http://127.0.0.1:8333 for SeaweedFS); empty means AWS (or AWS_ENDPOINT_URL).
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    # Empty: taken from the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment, as AWS tools do.
    s3_access_key_id: str = ""
    s3_secret_access_key: str = dataclasses.field(default="", repr=False)
    # Largest request message accepted (CreateMedia carries up to 16 MiB).
    max_receive_message_bytes: int = 17 * 1024 * 1024
    max_send_message_bytes: int = 8 * 1024 * 1024
    # Identity providers whose ID tokens are accepted as `authorization: Bearer <JWT>` (besides API keys).
    jwt_issuers: tuple[TokenIssuerSettings, ...] = ()
    # Clock skew allowed on `exp`, `nbf` and `iat`, seconds (the gateway allows the same).
    jwt_clock_skew_seconds: int = 60
    # Fetched public keys are trusted this long, then fetched again.
    jwks_cache_seconds: float = 300.0
    # A token naming a key id not in the cache fetches the keys again, at most this often per issuer.
    jwks_refresh_cooldown_seconds: float = 10.0
    # TLS for the gRPC port: certificate chain and private key (PEM). Without them the port is plaintext.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # With a CA (PEM), clients must present a certificate it signed (mTLS, e.g. between the gateway and us).
    tls_client_ca_file: str = ""

    def __post_init__(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("TLS needs a certificate and its key: STORYLOOM_TLS_CERT_FILE and STORYLOOM_TLS_KEY_FILE")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ValueError("STORYLOOM_TLS_CLIENT_CA_FILE (mTLS) needs TLS: set a certificate and key too")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'storyloom.db').resolve()}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, Any] = {
            "address": _env("ADDRESS", cls.address),
            "data_dir": Path(_env("DATA_DIR", str(cls.data_dir))),
            "database_url": _env("DATABASE_URL", ""),
            "sqlite_synchronous": _env("SQLITE_SYNCHRONOUS", cls.sqlite_synchronous).upper(),
            "shutdown_grace_seconds": float(_env("SHUTDOWN_GRACE_SECONDS", str(cls.shutdown_grace_seconds))),
            "task_concurrency": int(_env("TASK_CONCURRENCY", str(cls.task_concurrency))),
            "story_scene_concurrency": int(_env("STORY_SCENE_CONCURRENCY", str(cls.story_scene_concurrency))),
            "task_retention_seconds": float(_env("TASK_RETENTION_SECONDS", str(cls.task_retention_seconds))),
            "task_max_attempts": int(_env("TASK_MAX_ATTEMPTS", str(cls.task_max_attempts))),
            "task_lease_seconds": float(_env("TASK_LEASE_SECONDS", str(cls.task_lease_seconds))),
            "task_heartbeat_seconds": float(_env("TASK_HEARTBEAT_SECONDS", str(cls.task_heartbeat_seconds))),
            "run_tasks": _env("RUN_TASKS", "1") not in ("0", "false", "no"),
            "dev_bootstrap": _env("DEV_BOOTSTRAP", "1") not in ("0", "false", "no"),
            "log_level": _env("LOG_LEVEL", cls.log_level),
            "log_format": _env("LOG_FORMAT", cls.log_format),
            "metrics_address": _env("METRICS_ADDRESS", ""),
            "text_engine": _env("TEXT_ENGINE", cls.text_engine),
            "offline_word_delay_seconds": float(_env("OFFLINE_WORD_DELAY_SECONDS",
                                                     str(cls.offline_word_delay_seconds))),
            "messages_per_minute": int(_env("MESSAGES_PER_MINUTE", str(cls.messages_per_minute))),
            "concurrent_replies": int(_env("CONCURRENT_REPLIES", str(cls.concurrent_replies))),
            "admitted_replies": int(_env("ADMITTED_REPLIES", str(cls.admitted_replies))),
            "abandoned_reply_seconds": float(_env("ABANDONED_REPLY_SECONDS", str(cls.abandoned_reply_seconds))),
            "max_live_tasks_per_user": int(_env("MAX_LIVE_TASKS_PER_USER", str(cls.max_live_tasks_per_user))),
            "max_streams_per_user": int(_env("MAX_STREAMS_PER_USER", str(cls.max_streams_per_user))),
            "voice_idle_seconds": float(_env("VOICE_IDLE_SECONDS", str(cls.voice_idle_seconds))),
            "voice_hangover_seconds": float(_env("VOICE_HANGOVER_SECONDS", str(cls.voice_hangover_seconds))),
            "voice_finished_hangover_seconds": float(_env("VOICE_FINISHED_HANGOVER_SECONDS",
                                                          str(cls.voice_finished_hangover_seconds))),
            "voice_unfinished_hangover_seconds": float(_env("VOICE_UNFINISHED_HANGOVER_SECONDS",
                                                            str(cls.voice_unfinished_hangover_seconds))),
            "voice_recognizer_window_seconds": float(_env("VOICE_RECOGNIZER_WINDOW_SECONDS",
                                                          str(cls.voice_recognizer_window_seconds))),
            "voice_warm_up": _env("VOICE_WARM_UP", "1") not in ("0", "false", "no"),
            "plugins": tuple(p for p in _env("PLUGINS", "").split(",") if p.strip()),
            "jwt_issuers": _token_issuers(),
            "jwt_clock_skew_seconds": int(_env("JWT_CLOCK_SKEW_SECONDS", str(cls.jwt_clock_skew_seconds))),
            "jwks_cache_seconds": float(_env("JWKS_CACHE_SECONDS", str(cls.jwks_cache_seconds))),
            "tls_cert_file": _env("TLS_CERT_FILE", ""),
            "tls_key_file": _env("TLS_KEY_FILE", ""),
            "tls_client_ca_file": _env("TLS_CLIENT_CA_FILE", ""),
            "secret": _env("SECRET", ""),
            "media_url": _env("MEDIA_URL", ""),
            "s3_endpoint": _env("S3_ENDPOINT", ""),
            "s3_region": _env("S3_REGION", cls.s3_region),
            "s3_access_key_id": _env("S3_ACCESS_KEY_ID", ""),
            "s3_secret_access_key": _env("S3_SECRET_ACCESS_KEY", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
