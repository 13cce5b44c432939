// The REST/JSON + Server-Sent Events path through the gateway (see gateway/README.md). The gateway transcodes
// the same contracts, and its JSON is the proto3 JSON mapping, so requests are the generated messages through
// toJson and answers come back through fromJson: field names, enums, int64 and Any need no hand-written types.

import { createRegistry, type DescMessage, fromJson, type JsonValue, type MessageShape, toJson } from "@bufbuild/protobuf";
import { ApiError, errorDetailTypes } from "./errors";
import {
  type Conversation,
  ConversationSchema,
  file_storyloom_v1_conversation,
  type ReplyEvent,
  ReplyEventSchema,
  type SendMessageRequest,
  SendMessageRequestSchema,
} from "./gen/storyloom/v1/conversation_pb";
import type { Media } from "./gen/storyloom/v1/media_pb";
import {
  type CreateStoryRequest,
  CreateStoryRequestSchema,
  type CreateStoryVideoRequest,
  CreateStoryVideoRequestSchema,
  file_storyloom_v1_story,
  type Story,
  StorySchema,
} from "./gen/storyloom/v1/story_pb";
import {
  file_storyloom_v1_task,
  ListTasksResponseSchema,
  type Task,
  type TaskEvent,
  TaskEventSchema,
  TaskSchema,
} from "./gen/storyloom/v1/task_pb";
import { file_storyloom_v1_video } from "./gen/storyloom/v1/video_pb";
import { credentialHeader, type Protocol, StoryloomClient } from "./api";
import { readSse } from "./sse";

/**
 * What an Any in an answer may hold: a finished story task's result is a Story, errors carry ErrorInfo and the
 * other error details. Unknown fields are skipped, so a newer server's additions do not break the page.
 */
const readOptions = {
  registry: createRegistry(file_storyloom_v1_story, file_storyloom_v1_task, file_storyloom_v1_conversation,
    file_storyloom_v1_video,
    errorDetailTypes),
  ignoreUnknownFields: true,
};

const SSE = { accept: "text/event-stream" };

export class RestClient extends StoryloomClient {
  readonly protocol: Protocol = "rest";

  /**
   * @param baseUrl the gateway, e.g. "http://127.0.0.1:8080" (no trailing slash needed)
   * @param apiKey an API key (sent as x-api-key) or a sign-in token (sent as authorization: Bearer) on every call
   */
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {
    super();
  }

  /** fetch() on the gateway with the credential; throws ApiError for any non-2xx answer. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set(...credentialHeader(this.apiKey));
    if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
    const response = await fetch(new URL(path, this.baseUrl.replace(/\/*$/, "/")), { ...init, headers });
    if (!response.ok) throw await ApiError.fromResponse(response);
    return response;
  }

  /** A unary call whose answer is the JSON of `schema`. */
  async call<Desc extends DescMessage>(schema: Desc, method: string, path: string, body?: JsonValue): Promise<MessageShape<Desc>> {
    const init: RequestInit = { method };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await this.fetch(path, init);
    return fromJson(schema, (await response.json()) as JsonValue, readOptions);
  }

  /** The events of a Server-Sent Events answer, each `data:` the JSON of `schema`. */
  async *events<Desc extends DescMessage>(schema: Desc, path: string, init: RequestInit): AsyncGenerator<MessageShape<Desc>> {
    const response = await this.fetch(path, { ...init, headers: SSE });
    for await (const data of readSse(response, init.signal ?? undefined)) {
      yield fromJson(schema, JSON.parse(data) as JsonValue, readOptions);
    }
  }

  async checkKey(): Promise<void> {
    await this.call(ListTasksResponseSchema, "GET", "/v1/tasks?pageSize=1");
  }

  createConversation(): Promise<Conversation> {
    return this.call(ConversationSchema, "POST", "/v1/users/me/conversations", {});
  }

  createStory(request: CreateStoryRequest): Promise<Task> {
    // The parent is in the path; the body is the rest of the request (body: "*").
    const body = toJson(CreateStoryRequestSchema, { ...request, parent: "" });
    return this.call(TaskSchema, "POST", `/v1/${request.parent}/stories`, body);
  }

  getStory(name: string): Promise<Story> {
    return this.call(StorySchema, "GET", `/v1/${name}`);
  }

  createStoryVideo(request: CreateStoryVideoRequest): Promise<Task> {
    const body = toJson(CreateStoryVideoRequestSchema, { ...request, parent: "" });
    return this.call(TaskSchema, "POST", `/v1/${request.parent}/videos`, body);
  }

  cancelTask(name: string): Promise<Task> {
    return this.call(TaskSchema, "POST", `/v1/${name}:cancel`, {});
  }

  /** GET {downloadPath}: the raw bytes with their Content-Type. */
  async downloadMedia(media: Media, signal?: AbortSignal): Promise<Blob> {
    const path = media.downloadPath || `/v1/${media.name}:download`;
    const response = await this.fetch(path, { signal: signal ?? null });
    return response.blob();
  }

  protected openSendMessage(request: SendMessageRequest, signal: AbortSignal): AsyncIterable<ReplyEvent> {
    const body = JSON.stringify(toJson(SendMessageRequestSchema, { ...request, conversation: "" }));
    return this.events(ReplyEventSchema, `/v1/${request.conversation}:sendMessage`, { method: "POST", body, signal });
  }

  protected openStreamReply(reply: string, afterSequence: bigint, signal: AbortSignal): AsyncIterable<ReplyEvent> {
    return this.events(ReplyEventSchema, `/v1/${reply}:streamReply?afterSequence=${afterSequence}`, { signal });
  }

  protected openWatchTask(name: string, afterSequence: bigint, signal: AbortSignal): AsyncIterable<TaskEvent> {
    return this.events(TaskEventSchema, `/v1/${name}:watch?afterSequence=${afterSequence}`, { signal });
  }
}
