"""The read cache of finished resources: announcements forget entries and what is built from them, a read racing
an announcement keeps no copy, nothing is served while notices may be missed."""

from __future__ import annotations

from storyloom.api.cache import ReadCache
from storyloom.domain.ports.notifier import CHANGED, LocalNotifier
from storyloom.v1 import media_pb2, story_pb2, task_pb2


def cached(cache: ReadCache, name: str) -> task_pb2.Task | None:
    entry = cache.get(name, task_pb2.Task)
    return entry.response if entry is not None else None


async def test_an_announced_change_forgets_the_entry_and_those_built_from_it():
    notifier = LocalNotifier()
    cache = ReadCache()
    cache.attach(notifier)
    since = cache.token()
    story = cache.put("users/u/stories/s", "u", story_pb2.Story(name="users/u/stories/s"), since=since,
                      depends=("media/p",))
    task = cache.put("tasks/t", "u", task_pb2.Task(name="tasks/t"), since=since, depends=("users/u/stories/s",))
    other = cache.put("tasks/o", "u", task_pb2.Task(name="tasks/o"), since=since)
    entry = cache.get("users/u/stories/s", story_pb2.Story)
    assert entry is not None and entry.response is story and entry.owner == "u" and cached(cache, "tasks/t") is task

    await notifier.publish(CHANGED, "media/p")

    assert cache.get("users/u/stories/s", story_pb2.Story) is None and cached(cache, "tasks/t") is None
    assert cached(cache, "tasks/o") is other


async def test_a_read_that_began_before_an_announcement_keeps_no_copy():
    notifier = LocalNotifier()
    cache = ReadCache()
    cache.attach(notifier)
    before = cache.token()
    await notifier.publish(CHANGED, "tasks/t")  # deleted while it was being read
    cache.put("tasks/t", "u", task_pb2.Task(name="tasks/t"), since=before)
    cache.put("tasks/x", "u", task_pb2.Task(name="tasks/x"), since=before, depends=("tasks/t",))
    assert cached(cache, "tasks/t") is None and cached(cache, "tasks/x") is None

    after = cache.token()
    cache.put("tasks/t", "u", task_pb2.Task(name="tasks/t"), since=after)
    assert cached(cache, "tasks/t") is not None


async def test_a_prefix_or_a_missed_notice_forgets_everything_it_covers():
    notifier = LocalNotifier()
    cache = ReadCache()
    cache.attach(notifier)
    since = cache.token()
    for name in ("tasks/a", "tasks/b", "media/m"):
        cache.put(name, "u", task_pb2.Task(name=name), since=since)
    await notifier.publish(CHANGED, "tasks/")
    assert cached(cache, "tasks/a") is None and cached(cache, "tasks/b") is None and cached(cache, "media/m")
    cache.put("tasks/c", "u", task_pb2.Task(name="tasks/c"), since=since)  # its read began before
    assert cached(cache, "tasks/c") is None

    notifier.deliver_all()
    assert len(cache) == 0


class Flaky(LocalNotifier):
    live = True


def test_nothing_is_served_or_kept_while_notices_may_be_missed():
    notifier = Flaky()
    cache = ReadCache()
    cache.attach(notifier)
    cache.put("tasks/a", "u", task_pb2.Task(name="tasks/a"), since=cache.token())
    notifier.live = False
    assert cached(cache, "tasks/a") is None
    cache.put("tasks/b", "u", task_pb2.Task(name="tasks/b"), since=cache.token())
    notifier.live = True
    assert cached(cache, "tasks/b") is None and cached(cache, "tasks/a") is not None


def test_entries_expire_after_max_age_and_the_least_recently_used_go_first():
    now = [0.0]
    cache = ReadCache(capacity=2, max_age=10, clock=lambda: now[0])
    for name in ("a", "b"):
        cache.put(name, "u", task_pb2.Task(name=name), since=cache.token())
    assert cached(cache, "a") is not None  # now b is the least recently used
    cache.put("c", "u", task_pb2.Task(name="c"), since=cache.token())
    assert cached(cache, "b") is None and cached(cache, "a") is not None
    now[0] = 11
    assert cached(cache, "a") is None and len(cache) == 1


def test_an_entry_of_another_type_is_not_served():
    cache = ReadCache()
    cache.put("media/m", "u", media_pb2.Media(name="media/m"), since=cache.token())
    assert cache.get("media/m", task_pb2.Task) is None
    assert cache.get("media/m", media_pb2.Media) is not None
