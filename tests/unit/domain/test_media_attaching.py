"""MediaLibrary.attaching: media made for a write that is refused, or that finds its target gone, are deleted (with
their renditions), and the write's error goes on; on any other error (the write may have landed) they are kept."""

from __future__ import annotations

import logging

import pytest

from storyloom.domain.errors import NotFound
from storyloom.domain.media import MediaItem, MediaLibrary
from storyloom.domain.tasks import TaskFenced
from tests.support.fakes import InMemoryBlobStore, InMemoryMediaRepository, TrustingInspector


class FailingDeletes(InMemoryMediaRepository):
    async def delete(self, user_id: str, media_ids: list[str]) -> list[str]:
        raise OSError("the database went away")


async def made(library: MediaLibrary) -> tuple[MediaItem, MediaItem]:
    item = await library.store("u1", b"picture", "image/png")
    poster = await library.store("u1", b"poster", "image/png", parent_id=item.id, purpose="poster")
    return item, poster


@pytest.mark.parametrize("refusal", [TaskFenced("moved on"), LookupError("v1"), NotFound("stories/s1")])
async def test_a_refused_write_takes_the_media_and_their_renditions_and_its_error_goes_on(refusal: Exception) -> None:
    repo, blobs = InMemoryMediaRepository(), InMemoryBlobStore()
    library = MediaLibrary(repo, blobs, TrustingInspector())
    item, _poster = await made(library)
    kept = await library.store("u1", b"kept", "image/png")

    with pytest.raises(type(refusal)) as raised:
        async with library.attaching("u1", [item.id, None]):
            raise refusal
    assert raised.value is refusal
    assert set(repo.items) == {kept.id}
    assert list(blobs.blobs.values()) == [b"kept"]


async def test_any_other_error_keeps_the_media_the_write_may_have_stored() -> None:
    repo = InMemoryMediaRepository()
    library = MediaLibrary(repo, InMemoryBlobStore(), TrustingInspector())
    item, poster = await made(library)

    with pytest.raises(RuntimeError):
        async with library.attaching("u1", [item.id]):
            raise RuntimeError("the connection dropped after the commit, or before it")
    assert set(repo.items) == {item.id, poster.id}


async def test_a_deletion_that_fails_is_logged_and_the_refusal_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    library = MediaLibrary(FailingDeletes(), InMemoryBlobStore(), TrustingInspector())
    item, _poster = await made(library)

    with caplog.at_level(logging.WARNING, logger="storyloom.domain.media"), pytest.raises(TaskFenced):
        async with library.attaching("u1", [item.id]):
            raise TaskFenced("moved on")
    [record] = [r for r in caplog.records if r.name == "storyloom.domain.media"]
    assert record.getMessage() == "media left unattached were not deleted" and record.exc_info is not None


async def test_the_write_is_given_the_media_to_attach_less_the_nones() -> None:
    library = MediaLibrary(InMemoryMediaRepository(), InMemoryBlobStore(), TrustingInspector())
    async with library.attaching("u1", ["m1", None, "m2"]) as attach:
        assert attach == ["m1", "m2"]


class EndedTasks(InMemoryMediaRepository):
    """Media whose marking task is in `ended` are unattached."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: set[str] = set()

    async def unattached(self, limit: int) -> list[tuple[str, str]]:
        return [(self.items[i].user_id, i) for i, task in self.made_by_task.items() if task in self.ended][:limit]


async def test_a_sweep_deletes_each_users_unattached_media_of_ended_tasks_with_renditions_and_blobs() -> None:
    repo, blobs = EndedTasks(), InMemoryBlobStore()
    library = MediaLibrary(repo, blobs, TrustingInspector())
    left = [await library.store(user, f"{user} picture".encode(), "image/png", made_by_task="t1")
            for user in ("u1", "u2")]
    await library.store("u1", b"poster", "image/png", parent_id=left[0].id, purpose="poster")
    running = await library.store("u1", b"running", "image/png", made_by_task="t2")
    upload = await library.store("u2", b"upload", "image/png")

    assert await library.sweep_unattached() == 0
    repo.ended.add("t1")
    assert await library.sweep_unattached() == 2
    assert set(repo.items) == {running.id, upload.id}
    assert sorted(blobs.blobs.values()) == [b"running", b"upload"]
