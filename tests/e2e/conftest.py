"""Replicas: several `python -m storyloom serve` processes sharing one PostgreSQL database and one S3 bucket (a real
SeaweedFS), as DESIGN.md's many-process shape runs them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server_process import ServerProcess
from tools.seaweedfs import SeaweedFS

StartProcesses = Callable[..., list[ServerProcess]]
# How long a silent worker holds its tasks in these tests (the default is 10 s).
LEASE_SECONDS = 3.0


@pytest.fixture
def shared_env(postgres_url: str, seaweedfs: SeaweedFS) -> dict[str, str]:
    """What every replica of one deployment is given alike: the database, the secret, the media bucket."""
    return {"STORYLOOM_DATABASE_URL": postgres_url, "STORYLOOM_SECRET": f"test-{uuid.uuid4().hex}",
            **seaweedfs.storyloom_env(f"replicas-{uuid.uuid4().hex}"),
            "STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_VOICE_WARM_UP": "0"}


@pytest.fixture
def replicas(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[StartProcesses]:
    """Starts that many replicas (each with a data dir of its own); all are killed when the test ends."""
    yield from _process_starter(tmp_path, shared_env)


@pytest.fixture
def cluster_env(postgres_url: str) -> dict[str, str]:
    """Replicas of one PostgreSQL database, media on each one's disk (the task tests need no shared media)."""
    return {"STORYLOOM_DATABASE_URL": postgres_url, "STORYLOOM_SECRET": f"test-{uuid.uuid4().hex}",
            "STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_VOICE_WARM_UP": "0",
            "STORYLOOM_TASK_LEASE_SECONDS": str(LEASE_SECONDS)}


@pytest.fixture
def pg_replicas(tmp_path: Path, cluster_env: dict[str, str]) -> Iterator[StartProcesses]:
    """Starts `count` processes (`serve`, or `worker`) with `cluster_env` and more variables; killed at the end."""
    yield from _process_starter(tmp_path, cluster_env)


def _process_starter(tmp_path: Path, shared: dict[str, str]) -> Iterator[StartProcesses]:
    started: list[ServerProcess] = []

    def start(count: int, command: str = "serve", **env: str) -> list[ServerProcess]:
        new = [ServerProcess(tmp_path / f"replica-{len(started) + i}", tmp_path / f"replica-{len(started) + i}.log",
                             env={**shared, **env}, command=command) for i in range(count)]
        started.extend(new)
        for replica in new:
            replica.start()
        return new

    yield start
    for replica in started:
        replica.kill()
