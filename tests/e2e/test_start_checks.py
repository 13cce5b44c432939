"""Settings a deployment of several replicas cannot run with stop the server at start, with a plain message and
exit code 2, not a traceback and not a replica quietly doing its own thing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server_process import ROOT


def serve(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("STORYLOOM_", "AWS_"))}
    environment.update({"PYTHONPATH": str(ROOT), "STORYLOOM_DEV_BOOTSTRAP": "0", **env})
    return subprocess.run([sys.executable, "-m", "storyloom", "serve", "--address", "127.0.0.1:0", "--data-dir",
                           str(data_dir)], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)


def assert_refused(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "configuration error" in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr[-2000:]


def test_postgresql_without_a_secret_is_refused_at_start(tmp_path, postgres_admin_url):
    result = serve(tmp_path / "data", {"STORYLOOM_DATABASE_URL": postgres_admin_url})

    assert_refused(result, "STORYLOOM_SECRET is required with PostgreSQL")
    assert not (tmp_path / "data" / "secret").exists()  # no secret of its own, that no other replica shares


def test_media_on_s3_with_refused_credentials_stops_the_server_at_start(tmp_path, seaweedfs):
    env = seaweedfs.storyloom_env("start-checks")
    env["STORYLOOM_S3_SECRET_ACCESS_KEY"] = "not-the-secret"

    result = serve(tmp_path / "data", env)

    assert_refused(result, env["STORYLOOM_MEDIA_URL"], "SignatureDoesNotMatch")


def test_a_media_url_of_an_unknown_kind_is_refused_at_start(tmp_path):
    result = serve(tmp_path / "data", {"STORYLOOM_MEDIA_URL": "ftp://example/media"})

    assert_refused(result, "STORYLOOM_MEDIA_URL", "s3://bucket/prefix")


def test_media_on_s3_without_credentials_is_refused_before_anything_is_asked_of_the_network(tmp_path):
    result = serve(tmp_path / "data", {"STORYLOOM_MEDIA_URL": "s3://bucket/media",
                                       "STORYLOOM_S3_ENDPOINT": "http://127.0.0.1:9"})

    assert_refused(result, "STORYLOOM_S3_ACCESS_KEY_ID")
