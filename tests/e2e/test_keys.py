"""`storyloom keys list|revoke`: a key revoked from the command line is refused by every replica within a second,
though each had it in its cache (invalidated through PostgreSQL NOTIFY)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import grpc

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.conftest import Caller
from tests.support.server import caller_in_database
from tests.support.server_process import ROOT, ServerProcess


def storyloom(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storyloom", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=False)


async def answer(replica: ServerProcess, caller: Caller) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(replica.address) as channel:
        try:
            await task_pb2_grpc.TaskServiceStub(channel).ListTasks(task_pb2.ListTasksRequest(),
                                                                   metadata=caller.metadata)
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


async def test_a_key_revoked_from_the_command_line_is_refused_by_every_replica_within_a_second(
        pg_replicas, cluster_env):
    caller = await caller_in_database(cluster_env["STORYLOOM_DATABASE_URL"])
    first, second = pg_replicas(2)
    assert [await answer(r, caller) for r in (first, second)] == [grpc.StatusCode.OK] * 2  # cached on both now

    listed = storyloom(cluster_env, "keys", "list", "--user", caller.user_id)
    assert listed.returncode == 0, listed.stderr
    (row,) = [line.split() for line in listed.stdout.splitlines()[1:]]
    key_id, revoked_before = row[0], row[-1]
    revoked = storyloom(cluster_env, "keys", "revoke", key_id)
    done = time.monotonic()

    assert revoked.returncode == 0, revoked.stderr
    refused_after: dict[int, float] = {}
    while len(refused_after) < 2 and time.monotonic() - done < 10:
        for index, replica in enumerate((first, second)):
            if index not in refused_after and await answer(replica, caller) == grpc.StatusCode.UNAUTHENTICATED:
                refused_after[index] = time.monotonic() - done
        await asyncio.sleep(0.02)
    assert revoked_before == "-"
    assert sorted(refused_after) == [0, 1], "a replica still accepts the revoked key"
    assert max(refused_after.values()) < 1.0, refused_after
    relisted = storyloom(cluster_env, "keys", "list", "--user", caller.user_id)
    assert relisted.stdout.splitlines()[1].split()[-1] != "-"
    assert storyloom(cluster_env, "keys", "revoke", key_id).returncode == 1  # nothing left to revoke
