"""TaskService: proto <-> TaskRunner."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping

from google.protobuf import any_pb2, duration_pb2, empty_pb2
from google.protobuf.message import Message as ProtoMessage

from storyloom.api.auth import caller
from storyloom.api.cache import ReadCache
from storyloom.api.context import Context
from storyloom.api.errors import status_for_task_error
from storyloom.api.requests import PageTokens, after_time, paginate, resource_id, time_position, timestamp
from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.stories import SCENE_READY
from storyloom.domain.tasks import Task, TaskEvent, TaskPart, TaskRunner, TaskState
from storyloom.v1 import task_pb2, task_pb2_grpc

_STATE_TO_PROTO: dict[TaskState, task_pb2.TaskState] = {
    TaskState.PENDING: task_pb2.TASK_STATE_PENDING, TaskState.RUNNING: task_pb2.TASK_STATE_RUNNING,
    TaskState.SUCCEEDED: task_pb2.TASK_STATE_SUCCEEDED, TaskState.FAILED: task_pb2.TASK_STATE_FAILED,
    TaskState.CANCELLED: task_pb2.TASK_STATE_CANCELLED}
_STATE_FROM_PROTO = {v: k for k, v in _STATE_TO_PROTO.items()}


# Builds the result of a succeeded task whose kind stores none, from the resource it produced.
ResultResolver = Callable[[Task], Awaitable[ProtoMessage | None]]
# Builds the finished part an event announces (by its TaskPart's type), for the task's user; None once it is gone.
PartResolver = Callable[[str, TaskPart], Awaitable[ProtoMessage | None]]
_EVENT_TYPE = {SCENE_READY: task_pb2.TASK_EVENT_TYPE_SCENE_READY}


def task_proto(task: Task, retention: dt.timedelta, result: any_pb2.Any | None = None) -> task_pb2.Task:
    message = task_pb2.Task(
        name=f"tasks/{task.id}", kind=task.kind, state=_STATE_TO_PROTO[task.state], stage=task.stage,
        percent=task.percent, message=task.message, target=task.target, last_sequence=task.last_sequence,
        attempt=task.attempt, create_time=timestamp(task.create_time), update_time=timestamp(task.update_time),
        start_time=timestamp(task.start_time), end_time=timestamp(task.end_time),
        estimated_completion_time=timestamp(task.eta),
        expire_time=timestamp(task.end_time + retention if task.end_time else None),
    )
    if result is not None:
        message.result.CopyFrom(result)
    if task.error is not None:
        message.error.CopyFrom(status_for_task_error(task.error))
    return message


def event_proto(event: TaskEvent, result: any_pb2.Any | None = None,
                part: ProtoMessage | None = None) -> task_pb2.TaskEvent:
    message = task_pb2.TaskEvent(
        task=f"tasks/{event.task_id}", sequence=event.sequence, create_time=timestamp(event.create_time),
        state=_STATE_TO_PROTO[event.state], stage=event.stage, percent=event.percent, message=event.message,
        estimated_completion_time=timestamp(event.eta),
        type=_EVENT_TYPE.get(event.part.type, task_pb2.TASK_EVENT_TYPE_PROGRESS) if event.part
        else task_pb2.TASK_EVENT_TYPE_PROGRESS,
    )
    if part is not None:
        message.part.Pack(part)
    if event.eta is not None:
        remaining = duration_pb2.Duration()
        remaining.FromTimedelta(max(event.eta - event.create_time, dt.timedelta(0)))
        message.estimated_remaining.CopyFrom(remaining)
    if event.error is not None:
        message.error.CopyFrom(status_for_task_error(event.error))
    if result is not None:
        message.result.CopyFrom(result)
    return message


class TaskServicer(task_pb2_grpc.TaskServiceServicer):
    def __init__(self, runner: TaskRunner, tokens: PageTokens, resolvers: Mapping[str, ResultResolver] = {},
                 cache: ReadCache | None = None, parts: Mapping[str, PartResolver] = {},
                 target_results: Collection[str] = ()):
        """`target_results`: the kinds whose resolved result is built from the task's target alone (a story's
        task: the story), so that a finished task's answer stays right until a change of the target is announced.
        The answers of other kinds with a resolver are built each time."""
        self._runner = runner
        self._tokens = tokens
        self._resolvers = dict(resolvers)
        self._parts = dict(parts)
        self._target_results = frozenset(target_results)
        # Finished tasks' answers (api/cache.py).
        self._cache = cache if cache is not None else ReadCache()

    async def _resolved(self, task: Task) -> ProtoMessage | None:
        """The result a resolver builds, for a succeeded task of a kind that stores none."""
        resolver = self._resolvers.get(task.kind)
        if task.result is not None or task.state is not TaskState.SUCCEEDED or resolver is None:
            return None
        return await resolver(task)

    @staticmethod
    def _packed(task: Task, resolved: ProtoMessage | None) -> any_pb2.Any | None:
        if task.result is not None:
            return any_pb2.Any(type_url=f"type.googleapis.com/{task.result.type_name}", value=task.result.payload)
        if resolved is None:
            return None
        packed = any_pb2.Any()
        packed.Pack(resolved)
        return packed

    async def _result(self, task: Task) -> any_pb2.Any | None:
        return self._packed(task, await self._resolved(task))

    async def to_proto(self, task: Task, since: int | None = None) -> task_pb2.Task:
        """The task as the API shows it, with its result. With `since` (the cache's token taken before `task` was
        read), a finished task's answer is kept and served from memory until an announced change of the task or
        of what its result is built from; the message may be shared: do not change it."""
        message = task_proto(task, self._runner.retention, await self._result(task))
        if since is not None and task.state.terminal:
            if task.kind not in self._resolvers or task.result is not None:
                self._cache.put(message.name, task.user_id, message, since=since)
            elif task.kind in self._target_results and task.target:
                self._cache.put(message.name, task.user_id, message, since=since, depends=(task.target,))
        return message

    async def GetTask(self, request: task_pb2.GetTaskRequest, context: Context) -> task_pb2.Task:
        task_id = resource_id(request.name, "tasks", "name")
        user = caller()
        if (cached := self._cache.owned(f"tasks/{task_id}", task_pb2.Task, user)) is not None:
            return cached
        since = self._cache.token()
        return await self.to_proto(await self._runner.get(user, task_id), since)

    async def ListTasks(
        self, request: task_pb2.ListTasksRequest, context: Context
    ) -> task_pb2.ListTasksResponse:
        states = []
        for i, value in enumerate(request.states):
            if value not in _STATE_FROM_PROTO:
                raise InvalidArgument(FieldViolation(f"states[{i}]",
                                                     "must be a known TaskState other than UNSPECIFIED"))
            states.append(_STATE_FROM_PROTO[value])
        if len(request.kind) > 100:
            raise InvalidArgument(FieldViolation("kind", "must be at most 100 characters"))
        user = caller()
        since = self._cache.token()
        found, token = await paginate(
            request, self._tokens, default=50, maximum=200,
            fingerprint={"states": sorted(s.value for s in states), "kind": request.kind, "user": user},
            fetch=lambda limit, after: self._runner.list(user, states=tuple(states), kind=request.kind, limit=limit,
                                                         after=after_time(after)),
            position=lambda task: time_position(task.create_time, task.id))
        return task_pb2.ListTasksResponse(tasks=[await self._listed(t, since) for t in found], next_page_token=token)

    async def _listed(self, task: Task, since: int) -> task_pb2.Task:
        """A listed task: a finished one's kept answer if there is one (a story task's holds the whole story, costly
        to pack again), else built (and kept, if finished)."""
        if task.state.terminal and (cached := self._cache.owned(f"tasks/{task.id}", task_pb2.Task,
                                                                task.user_id)) is not None:
            return cached
        return await self.to_proto(task, since)

    async def CancelTask(self, request: task_pb2.CancelTaskRequest, context: Context) -> task_pb2.Task:
        return await self.to_proto(await self._runner.cancel(caller(), resource_id(request.name, "tasks", "name")))

    async def DeleteTask(
        self, request: task_pb2.DeleteTaskRequest, context: Context
    ) -> empty_pb2.Empty:
        task_id = resource_id(request.name, "tasks", "name")
        await self._runner.delete(caller(), task_id, force=request.force)  # announced: the cached copy goes
        return empty_pb2.Empty()

    async def WatchTask(
        self, request: task_pb2.WatchTaskRequest, context: Context
    ) -> AsyncIterator[task_pb2.TaskEvent]:
        task_id = resource_id(request.name, "tasks", "name")
        if request.after_sequence < 0:
            raise InvalidArgument(FieldViolation("after_sequence", "must not be negative"))
        user = caller()
        async for event in self._runner.watch(user, task_id, request.after_sequence):
            result = part = None
            if event.state is TaskState.SUCCEEDED:
                result = await self._result(await self._runner.get(user, task_id))
            if event.part is not None and (resolve := self._parts.get(event.part.type)) is not None:
                part = await resolve(user, event.part)
            yield event_proto(event, result, part)
