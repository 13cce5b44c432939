"""ConversationService: proto <-> Conversations."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf import empty_pb2

from storyloom.api import requirements as requirements_api
from storyloom.api.context import Context
from storyloom.api.errors import status_for_task_error
from storyloom.api.requests import (
    PageTokens,
    after_time,
    check_request_id,
    paginate,
    resource_path,
    time_position,
    timestamp,
    user_parent,
)
from storyloom.domain import conversations as domain
from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.text import clip
from storyloom.v1 import conversation_pb2, conversation_pb2_grpc

_STATUS: dict[domain.Status, conversation_pb2.ConversationStatus] = {
    "ACTIVE": conversation_pb2.CONVERSATION_STATUS_ACTIVE,
           "COMPLETED": conversation_pb2.CONVERSATION_STATUS_COMPLETED,
           "ARCHIVED": conversation_pb2.CONVERSATION_STATUS_ARCHIVED}
_STATUS_FROM_PROTO = {v: k for k, v in _STATUS.items()}
_ROLE = {"user": conversation_pb2.MESSAGE_ROLE_USER, "assistant": conversation_pb2.MESSAGE_ROLE_ASSISTANT,
         "system": conversation_pb2.MESSAGE_ROLE_SYSTEM}
_STATE = {"GENERATING": conversation_pb2.MESSAGE_STATE_GENERATING, "COMPLETE": conversation_pb2.MESSAGE_STATE_COMPLETE,
          "CUT": conversation_pb2.MESSAGE_STATE_CUT, "FAILED": conversation_pb2.MESSAGE_STATE_FAILED}
_FINISH = {"": conversation_pb2.FINISH_REASON_UNSPECIFIED, "STOP": conversation_pb2.FINISH_REASON_STOP,
           "MAX_TOKENS": conversation_pb2.FINISH_REASON_MAX_TOKENS,
           "CANCELLED": conversation_pb2.FINISH_REASON_CANCELLED, "SAFETY": conversation_pb2.FINISH_REASON_SAFETY,
           "ERROR": conversation_pb2.FINISH_REASON_ERROR}
CONVERSATION = ("users", "conversations")
MESSAGE = ("users", "conversations", "messages")


def conversation_proto(value: domain.Conversation) -> conversation_pb2.Conversation:
    message = conversation_pb2.Conversation(
        name=value.name, title=value.title, status=_STATUS[value.status], message_count=value.message_count,
        create_time=timestamp(value.create_time), update_time=timestamp(value.update_time))
    if value.requirements is not None:
        message.requirements.CopyFrom(requirements_api.to_proto(value.requirements))
    return message


def message_proto(value: domain.Message) -> conversation_pb2.Message:
    return conversation_pb2.Message(
        name=value.name, role=_ROLE[value.role], text=value.text, state=_STATE[value.state],
        finish_reason=_FINISH.get(value.finish_reason, conversation_pb2.FINISH_REASON_ERROR),
        usage=conversation_pb2.TokenUsage(input_tokens=value.input_tokens, output_tokens=value.output_tokens),
        task=f"tasks/{value.task_id}" if value.task_id else "", create_time=timestamp(value.create_time))


def event_proto(event: domain.ReplyEvent) -> conversation_pb2.ReplyEvent:
    message = conversation_pb2.ReplyEvent(sequence=event.sequence, reply=event.reply.name)
    if event.user_message is not None or event.sequence == 1:
        message.accepted.task = f"tasks/{event.reply.task_id}"
        if event.user_message is not None:
            message.accepted.user_message.CopyFrom(message_proto(event.user_message))
    elif event.delta is not None:
        message.delta.text = event.delta
    elif event.error is not None:
        message.error.CopyFrom(status_for_task_error(event.error))
    else:
        message.finished.message.CopyFrom(message_proto(event.reply))
    return message


class ConversationServicer(conversation_pb2_grpc.ConversationServiceServicer):
    def __init__(self, conversations: domain.Conversations, tokens: PageTokens):
        self._conversations = conversations
        self._tokens = tokens

    async def CreateConversation(self, request: conversation_pb2.CreateConversationRequest,
                                 context: Context) -> conversation_pb2.Conversation:
        user = user_parent(request.parent)
        check_request_id(request.request_id)
        created = await self._conversations.create(user, request.conversation.title, request.request_id)
        return conversation_proto(created)

    async def GetConversation(self, request: conversation_pb2.GetConversationRequest,
                              context: Context) -> conversation_pb2.Conversation:
        user, conversation_id = resource_path(request.name, CONVERSATION, "name")
        return conversation_proto(await self._conversations.get(user, conversation_id))

    async def ListConversations(self, request: conversation_pb2.ListConversationsRequest,
                                context: Context) -> conversation_pb2.ListConversationsResponse:
        user = user_parent(request.parent)
        found, token = await paginate(
            request, self._tokens, default=20, maximum=100, fingerprint={"user": user, "list": "conversations"},
            fetch=lambda limit, after: self._conversations.list(user, limit, after_time(after)),
            position=lambda conversation: time_position(conversation.update_time, conversation.id))
        return conversation_pb2.ListConversationsResponse(
            conversations=[conversation_proto(c) for c in found], next_page_token=token)

    async def UpdateConversation(self, request: conversation_pb2.UpdateConversationRequest,
                                 context: Context) -> conversation_pb2.Conversation:
        user, conversation_id = resource_path(request.conversation.name, CONVERSATION, "conversation.name")
        paths = set(request.update_mask.paths) or {"title", "status"}
        unknown = paths - {"title", "status"}
        if unknown:
            raise InvalidArgument(FieldViolation("update_mask", f"cannot update {clip(', '.join(sorted(unknown)))}; "
                                                                "only title and status"))
        status = None
        if "status" in paths:
            status = _STATUS_FROM_PROTO.get(request.conversation.status)
            if status is None:
                raise InvalidArgument(FieldViolation("conversation.status", "must be ACTIVE, COMPLETED or ARCHIVED"))
        title = request.conversation.title if "title" in paths else None
        updated = await self._conversations.update(user, conversation_id, title=title, status=status)
        return conversation_proto(updated)

    async def DeleteConversation(self, request: conversation_pb2.DeleteConversationRequest,
                                 context: Context) -> empty_pb2.Empty:
        user, conversation_id = resource_path(request.name, CONVERSATION, "name")
        await self._conversations.delete(user, conversation_id)
        return empty_pb2.Empty()

    async def ListMessages(self, request: conversation_pb2.ListMessagesRequest,
                           context: Context) -> conversation_pb2.ListMessagesResponse:
        user, conversation_id = resource_path(request.parent, CONVERSATION, "parent")
        found, token = await paginate(
            request, self._tokens, default=50, maximum=200, fingerprint={"conversation": conversation_id},
            fetch=lambda limit, after: self._conversations.messages(
                user, conversation_id, limit, int(after["before"]) if after else None),
            position=lambda message: {"before": message.position})
        return conversation_pb2.ListMessagesResponse(messages=[message_proto(m) for m in found], next_page_token=token)

    async def SendMessage(self, request: conversation_pb2.SendMessageRequest,
                          context: Context) -> AsyncIterator[conversation_pb2.ReplyEvent]:
        user, conversation_id = resource_path(request.conversation, CONVERSATION, "conversation")
        check_request_id(request.request_id)
        events = await self._conversations.send(user, conversation_id, request.text, request.request_id)
        async for event in events:
            yield event_proto(event)

    async def StreamReply(self, request: conversation_pb2.StreamReplyRequest,
                          context: Context) -> AsyncIterator[conversation_pb2.ReplyEvent]:
        user, conversation_id, message_id = resource_path(request.name, MESSAGE, "name")
        if request.after_sequence < 0:
            raise InvalidArgument(FieldViolation("after_sequence", "must not be negative"))
        await self._conversations.reply_for(user, conversation_id, message_id)
        async for event in self._conversations.stream(user, message_id, request.after_sequence):
            yield event_proto(event)

    async def ExtractRequirements(self, request: conversation_pb2.ExtractRequirementsRequest,
                                  context: Context) -> conversation_pb2.ExtractRequirementsResponse:
        user, conversation_id = resource_path(request.conversation, CONVERSATION, "conversation")
        found = await self._conversations.extract_requirements(user, conversation_id)
        return conversation_pb2.ExtractRequirementsResponse(
            requirements=requirements_api.to_proto(found), complete=found.complete, missing_fields=found.missing())
