// What the page asks of Storyloom, in the generated message types (src/gen, from proto/ by protoc-gen-es), over
// either path through the Envoy gateway: REST/JSON + Server-Sent Events (rest.ts) or gRPC-Web (grpcweb.ts).
// Both send the credential (an API key as x-api-key, or an identity provider's sign-in token as authorization:
// Bearer), turn errors into ApiError, and re-attach server streams after the last sequence seen when the
// connection drops, so no event is missed or shown twice.

import { create } from "@bufbuild/protobuf";
import {
  type Conversation,
  type ReplyEvent,
  type SendMessageRequest,
  SendMessageRequestSchema,
} from "./gen/storyloom/v1/conversation_pb";
import type { Media } from "./gen/storyloom/v1/media_pb";
import type { CreateStoryRequest, CreateStoryVideoRequest, Story } from "./gen/storyloom/v1/story_pb";
import { type Task, type TaskEvent, TaskState } from "./gen/storyloom/v1/task_pb";
import { isTransient } from "./errors";

/**
 * The header that carries a credential: a sign-in token (a JWT from Firebase, Clerk, Auth0 or Supabase: three
 * dot-separated parts) as `authorization: Bearer`, anything else as an API key in `x-api-key`.
 */
export function credentialHeader(credential: string): [string, string] {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(credential) ? ["authorization", `Bearer ${credential}`] : ["x-api-key", credential];
}

/** How the page talks to the gateway. */
export type Protocol = "rest" | "grpc-web";

export const PROTOCOLS: readonly Protocol[] = ["rest", "grpc-web"];

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called before each re-attach, with the number of the attempt and the last sequence seen. */
  onReconnect?: (attempt: number, afterSequence: bigint) => void;
  /** Re-attach attempts in a row without a new event before giving up (default 5). */
  maxAttempts?: number;
  /** Start after this sequence (default 0: from the first event). */
  afterSequence?: bigint;
}

/** A stream kept dropping without making progress. */
export class StreamDroppedError extends Error {
  constructor(attempts: number) {
    super(`the connection to the gateway dropped ${attempts} times in a row; try again later`);
    this.name = "StreamDroppedError";
  }
}

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  TaskState.SUCCEEDED,
  TaskState.FAILED,
  TaskState.CANCELLED,
]);

/** The calls the page makes. Each path implements the calls and how a stream is opened; re-attaching is shared. */
export abstract class StoryloomClient {
  abstract readonly protocol: Protocol;

  /** One cheap authenticated call: resolves when the gateway answers and accepts the key. */
  abstract checkKey(): Promise<void>;

  abstract createConversation(): Promise<Conversation>;

  /** Starts writing a story (for `request.parent`, e.g. users/me); returns its task at once: watch it with watchTask. */
  abstract createStory(request: CreateStoryRequest): Promise<Task>;

  abstract getStory(name: string): Promise<Story>;

  /** Starts filming a finished story (`request.parent`); returns its task at once: its result is a StoryVideo. */
  abstract createStoryVideo(request: CreateStoryVideoRequest): Promise<Task>;

  abstract cancelTask(name: string): Promise<Task>;

  /**
   * A media item's bytes as a Blob with its content type. An <img> or <audio> cannot send the API key, so the
   * page downloads with the key and shows the Blob through a blob: URL.
   */
  abstract downloadMedia(media: Media, signal?: AbortSignal): Promise<Blob>;

  protected abstract openSendMessage(request: SendMessageRequest, signal: AbortSignal): AsyncIterable<ReplyEvent>;

  protected abstract openStreamReply(reply: string, afterSequence: bigint, signal: AbortSignal): AsyncIterable<ReplyEvent>;

  protected abstract openWatchTask(name: string, afterSequence: bigint, signal: AbortSignal): AsyncIterable<TaskEvent>;

  /**
   * Sends a message and yields the reply's events: accepted, deltas, then finished or error. A dropped
   * connection re-attaches with StreamReply after the last sequence; if it drops before the first event, the
   * message is sent again with the same request id, which stores nothing new and streams the same reply.
   */
  sendMessage(conversation: string, text: string, options: StreamOptions = {}): AsyncGenerator<ReplyEvent> {
    const request = create(SendMessageRequestSchema, { conversation, text, requestId: uuid4() });
    let reply = "";
    const open = (after: bigint, signal: AbortSignal): AsyncIterable<ReplyEvent> =>
      reply === "" ? this.openSendMessage(request, signal) : this.openStreamReply(reply, after, signal);
    const isLast = (event: ReplyEvent): boolean => {
      reply = event.reply || reply;
      return event.event.case === "finished" || event.event.case === "error";
    };
    return resumable(open, isLast, options);
  }

  /** A task's progress events until its terminal event, re-attaching after the last sequence if the connection drops. */
  watchTask(name: string, options: StreamOptions = {}): AsyncGenerator<TaskEvent> {
    const open = (after: bigint, signal: AbortSignal) => this.openWatchTask(name, after, signal);
    return resumable(open, (event: TaskEvent) => TERMINAL_TASK_STATES.has(event.state), options);
  }
}

/** How long to wait for the server to end a stream after its last event before hanging up. */
const DRAIN_MS = 2000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * The events of a server stream that can be re-attached: `open(after)` starts it after a sequence (0 = from the
 * start). Events at or below the last sequence seen are dropped (a replay), so each is yielded once, in order.
 * The stream ends after the event for which `isLast` is true; a stream that ends or breaks before it is opened
 * again after the last sequence, with backoff, up to `maxAttempts` times in a row without progress.
 *
 * After the last event the stream is still read to its end (the server closes it right away), so that the
 * request completes normally and its connection can be reused, rather than being aborted.
 */
export async function* resumable<E extends { sequence: bigint }>(
  open: (afterSequence: bigint, signal: AbortSignal) => AsyncIterable<E>,
  isLast: (event: E) => boolean,
  options: StreamOptions = {},
): AsyncGenerator<E> {
  const { signal, onReconnect, maxAttempts = 5 } = options;
  let after = options.afterSequence ?? 0n;
  let failures = 0;
  for (;;) {
    // Aborts this one request: when the caller aborts, or when the server keeps it open after the last event.
    const request = new AbortController();
    const abort = () => request.abort(signal?.reason);
    signal?.addEventListener("abort", abort, { once: true });
    let finished = false;
    try {
      for await (const event of open(after, request.signal)) {
        if (finished || event.sequence <= after) continue;
        after = event.sequence;
        failures = 0;
        yield event;
        if (isLast(event)) {
          finished = true;
          setTimeout(() => request.abort(), DRAIN_MS);
        }
      }
      if (finished) return;
      // The stream ended without a last event: over REST an error after the first event travels only in HTTP
      // trailers, which browsers cannot read, or the connection was closed. Either way, re-attach.
    } catch (error) {
      if (finished) return; // the server did not close in time: it was hung up on, which is fine
      if (signal?.aborted || !isTransient(error)) throw error;
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    failures += 1;
    if (failures > maxAttempts) throw new StreamDroppedError(failures - 1);
    onReconnect?.(failures, after);
    await sleep(Math.min(500 * 2 ** (failures - 1), 5000), signal);
  }
}

/** A random UUID (v4) for request ids; crypto.randomUUID exists only in secure contexts. */
export function uuid4(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
