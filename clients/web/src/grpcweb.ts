// The gRPC-Web path through the same gateway (Envoy's grpc_web filter): the generated service descriptors with
// connect-web's gRPC-Web transport, binary protobuf on the wire. Server streams (SendMessage, StreamReply,
// WatchTask, GetMedia) arrive message by message, and errors keep their full google.rpc.Status, which gRPC-Web
// carries in trailers a browser can read (the REST path cannot read a stream's trailers).

import { create } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { fromConnectError } from "./errors";
import {
  type Conversation,
  ConversationService,
  type ReplyEvent,
  type SendMessageRequest,
} from "./gen/storyloom/v1/conversation_pb";
import { type Media, MediaService } from "./gen/storyloom/v1/media_pb";
import {
  type CreateStoryRequest,
  type CreateStoryVideoRequest,
  type Story,
  StoryService,
} from "./gen/storyloom/v1/story_pb";
import { ListTasksRequestSchema, type Task, type TaskEvent, TaskService } from "./gen/storyloom/v1/task_pb";
import { credentialHeader, type Protocol, StoryloomClient } from "./api";

/** Unary calls: a ConnectError becomes what the REST path throws (ApiError, or the network's TypeError). */
async function unary<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw fromConnectError(error);
  }
}

/** Server streams, the same way. */
async function* stream<T>(messages: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    throw fromConnectError(error);
  }
}

export class GrpcWebClient extends StoryloomClient {
  readonly protocol: Protocol = "grpc-web";
  private readonly conversations: Client<typeof ConversationService>;
  private readonly stories: Client<typeof StoryService>;
  private readonly tasks: Client<typeof TaskService>;
  private readonly media: Client<typeof MediaService>;

  /**
   * @param baseUrl the gateway, e.g. "http://127.0.0.1:8080": gRPC-Web and REST share its port
   * @param apiKey an API key (sent as x-api-key) or a sign-in token (sent as authorization: Bearer) on every call
   */
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {
    super();
    const withKey: Interceptor = (next) => (request) => {
      request.header.set(...credentialHeader(apiKey));
      return next(request);
    };
    const transport = createGrpcWebTransport({ baseUrl: baseUrl.replace(/\/*$/, ""), interceptors: [withKey] });
    this.conversations = createClient(ConversationService, transport);
    this.stories = createClient(StoryService, transport);
    this.tasks = createClient(TaskService, transport);
    this.media = createClient(MediaService, transport);
  }

  async checkKey(): Promise<void> {
    await unary(this.tasks.listTasks(create(ListTasksRequestSchema, { pageSize: 1 })));
  }

  createConversation(): Promise<Conversation> {
    return unary(this.conversations.createConversation({ parent: "users/me" }));
  }

  createStory(request: CreateStoryRequest): Promise<Task> {
    return unary(this.stories.createStory(request));
  }

  getStory(name: string): Promise<Story> {
    return unary(this.stories.getStory({ name }));
  }

  createStoryVideo(request: CreateStoryVideoRequest): Promise<Task> {
    return unary(this.stories.createStoryVideo(request));
  }

  cancelTask(name: string): Promise<Task> {
    return unary(this.tasks.cancelTask({ name }));
  }

  /** GetMedia streams the bytes as google.api.HttpBody chunks (64 KiB each); the first names the content type. */
  async downloadMedia(media: Media, signal?: AbortSignal): Promise<Blob> {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let type = media.contentType;
    for await (const chunk of stream(this.media.getMedia({ name: media.name }, { signal }))) {
      type ||= chunk.contentType;
      parts.push(new Uint8Array(chunk.data));
    }
    return new Blob(parts, { type });
  }

  protected openSendMessage(request: SendMessageRequest, signal: AbortSignal): AsyncIterable<ReplyEvent> {
    return stream(this.conversations.sendMessage(request, { signal }));
  }

  protected openStreamReply(reply: string, afterSequence: bigint, signal: AbortSignal): AsyncIterable<ReplyEvent> {
    return stream(this.conversations.streamReply({ name: reply, afterSequence }, { signal }));
  }

  protected openWatchTask(name: string, afterSequence: bigint, signal: AbortSignal): AsyncIterable<TaskEvent> {
    return stream(this.tasks.watchTask({ name, afterSequence }, { signal }));
  }
}
