"""Settings, read from the environment (STORYLOOM_*) and overridden by command-line flags."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any


def _env(name: str, default: str) -> str:
    return os.environ.get(f"STORYLOOM_{name}", default)


class ConfigurationError(ValueError):
    """Settings the server cannot run with; the command line prints the message and exits."""


@dataclasses.dataclass(frozen=True)
class Settings:
    # Where to listen for gRPC; port 0 picks a free port (see port_file).
    address: str = "127.0.0.1:50051"
    # Everything the server keeps on disk: the SQLite database, media blobs, secrets.
    data_dir: Path = Path("data")
    # SQLAlchemy URL; empty means SQLite in data_dir.
    database_url: str = ""
    # Written with the bound port once the server is serving (for port 0).
    port_file: Path | None = None
    # Seconds in-flight calls may take to finish after SIGTERM/SIGINT.
    shutdown_grace_seconds: float = 10.0
    # How many tasks run at once; the rest wait in PENDING.
    task_concurrency: int = 4
    # Finished tasks and their event logs are deleted this long after they end.
    task_retention_seconds: float = 7 * 24 * 3600.0
    # A task resumed this many times after restarts is failed instead.
    task_max_attempts: int = 3
    # On first start with no users, create a development user and print its key.
    dev_bootstrap: bool = True
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    # Which text engine writes replies: "auto" (Gemini when GEMINI_API_KEY is set, else the
    # offline storyteller), "gemini" or "offline".
    text_engine: str = "auto"
    # Pause between the offline storyteller's words, so its replies stream visibly like a model's.
    offline_word_delay_seconds: float = 0.015
    # Per-user limit on chat messages.
    messages_per_minute: int = 10
    # A voice session's in-memory state (speech detector, audio) is dropped this long after its last stream ends.
    voice_idle_seconds: float = 300.0
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
            "shutdown_grace_seconds": float(_env("SHUTDOWN_GRACE_SECONDS", str(cls.shutdown_grace_seconds))),
            "task_concurrency": int(_env("TASK_CONCURRENCY", str(cls.task_concurrency))),
            "task_retention_seconds": float(_env("TASK_RETENTION_SECONDS", str(cls.task_retention_seconds))),
            "task_max_attempts": int(_env("TASK_MAX_ATTEMPTS", str(cls.task_max_attempts))),
            "dev_bootstrap": _env("DEV_BOOTSTRAP", "1") not in ("0", "false", "no"),
            "log_level": _env("LOG_LEVEL", cls.log_level),
            "log_format": _env("LOG_FORMAT", cls.log_format),
            "text_engine": _env("TEXT_ENGINE", cls.text_engine),
            "offline_word_delay_seconds": float(_env("OFFLINE_WORD_DELAY_SECONDS",
                                                     str(cls.offline_word_delay_seconds))),
            "messages_per_minute": int(_env("MESSAGES_PER_MINUTE", str(cls.messages_per_minute))),
            "voice_idle_seconds": float(_env("VOICE_IDLE_SECONDS", str(cls.voice_idle_seconds))),
            "voice_warm_up": _env("VOICE_WARM_UP", "1") not in ("0", "false", "no"),
            "plugins": tuple(p for p in _env("PLUGINS", "").split(",") if p.strip()),
            "secret": _env("SECRET", ""),
            "media_url": _env("MEDIA_URL", ""),
            "s3_endpoint": _env("S3_ENDPOINT", ""),
            "s3_region": _env("S3_REGION", cls.s3_region),
            "s3_access_key_id": _env("S3_ACCESS_KEY_ID", ""),
            "s3_secret_access_key": _env("S3_SECRET_ACCESS_KEY", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
