"""The response cache of finished resources: versions, eviction, forgetting."""

from __future__ import annotations

from storyloom.api.cache import ResponseCache, Same
from storyloom.v1 import task_pb2


def test_a_response_is_served_only_for_the_version_it_was_stored_with():
    cache: ResponseCache[task_pb2.Task] = ResponseCache()
    stored = cache.put("tasks/a", 1, task_pb2.Task(name="tasks/a"))
    assert cache.get("tasks/a", 1) is stored
    assert cache.get("tasks/a", 2) is None
    cache.put("tasks/a", 2, task_pb2.Task(name="tasks/a", stage="newer"))
    assert cache.get("tasks/a", 1) is None and len(cache) == 1


def test_forget_drops_the_name_and_the_least_recently_used_go_first():
    cache: ResponseCache[task_pb2.Task] = ResponseCache(capacity=2)
    for name in ("a", "b"):
        cache.put(name, 0, task_pb2.Task(name=name))
    assert cache.get("a", 0) is not None  # now b is the least recently used
    cache.put("c", 0, task_pb2.Task(name="c"))
    assert cache.get("b", 0) is None and cache.get("a", 0) is not None
    cache.forget("a")
    assert cache.get("a", 0) is None and len(cache) == 1


def test_same_equals_only_the_very_same_object():
    one, twin = task_pb2.Task(name="x"), task_pb2.Task(name="x")
    assert Same(one) == Same(one) and hash(Same(one)) == hash(Same(one))
    assert Same(one) != Same(twin)
    assert Same(None) == Same(None)
