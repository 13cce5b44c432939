// A small Storyloom client over the gateway's REST/JSON and Server-Sent Events (see gateway/README.md).
// Every call sends the API key as the x-api-key header; errors become ApiError with the google.rpc.Status
// reason; server streams re-attach with after_sequence when the connection drops, so no event is missed
// or shown twice.

import { readSse } from "./sse";
import type {
  Conversation,
  CreateStoryRequest,
  ReplyEvent,
  RpcStatus,
  Story,
  Task,
  TaskEvent,
} from "./types";
import { TERMINAL_TASK_STATES } from "./types";

/** An error answered by the gateway or the server: the HTTP status and the google.rpc.Status it carried. */
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: RpcStatus,
  ) {
    super(describeStatus(status, httpStatus));
    this.name = "ApiError";
  }

  /** The ErrorInfo reason (UPPER_SNAKE), to branch on; "" when there is none. */
  get reason(): string {
    return errorInfo(this.status)?.reason ?? "";
  }

  static async from(response: Response): Promise<ApiError> {
    const text = await response.text().catch(() => "");
    let status: RpcStatus;
    try {
      status = JSON.parse(text) as RpcStatus;
      if (typeof status.code !== "number") throw new Error("not a google.rpc.Status");
    } catch {
      status = { code: 2, message: text.trim() || response.statusText || "no details" };
    }
    return new ApiError(response.status, status);
  }
}

/** A stream kept dropping without making progress. */
export class StreamDroppedError extends Error {
  constructor(attempts: number) {
    super(`the connection to the gateway dropped ${attempts} times in a row; try again later`);
    this.name = "StreamDroppedError";
  }
}

export function errorInfo(status: RpcStatus): { reason?: string; metadata?: Record<string, string> } | undefined {
  return status.details?.find((d) => d["@type"].endsWith("google.rpc.ErrorInfo"));
}

/** A one-line description of a google.rpc.Status for people: "401 API_KEY_INVALID: the API key is not valid". */
export function describeStatus(status: RpcStatus, httpStatus?: number): string {
  const reason = errorInfo(status)?.reason;
  const violations = (status.details ?? [])
    .flatMap((d) => d.fieldViolations ?? [])
    .map((v) => `${v.field}: ${v.description}`);
  const head = [httpStatus, reason ?? status.status].filter((part) => part !== undefined && part !== "").join(" ");
  const text = [status.message, ...violations].filter(Boolean).join("; ");
  return head ? `${head}: ${text}` : text;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called before each re-attach, with the number of the attempt and the last sequence seen. */
  onReconnect?: (attempt: number, afterSequence: number) => void;
  /** Re-attach attempts in a row without a new event before giving up (default 5). */
  maxAttempts?: number;
  /** Start after this sequence (default 0: from the first event). */
  afterSequence?: number;
}

/** How long to wait for the server to end a stream after its last event before hanging up. */
const DRAIN_MS = 2000;

const RETRYABLE_HTTP = new Set([502, 503, 504]);

function retryable(error: unknown): boolean {
  // fetch() and a body reader reject with a TypeError when the network fails or the connection is cut.
  return error instanceof TypeError || (error instanceof ApiError && RETRYABLE_HTTP.has(error.httpStatus));
}

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

/** A random UUID (v4) for request ids; crypto.randomUUID exists only in secure contexts. */
export function uuid4(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The events of a server stream that can be re-attached: `open(after)` starts it after a sequence (0 = from the
 * start). Events at or below the last sequence seen are dropped (a replay), so each is yielded once, in order.
 * The stream ends after the event for which `isLast` is true; a stream that ends or breaks before it is opened
 * again after the last sequence, with backoff, up to `maxAttempts` times in a row without progress.
 *
 * After the last event the body is still read to its end (the server closes it right away), so that the
 * request completes normally and its connection can be reused, rather than being aborted.
 */
export async function* resumable<E extends { sequence: string }>(
  open: (afterSequence: number, signal: AbortSignal) => Promise<Response>,
  isLast: (event: E) => boolean,
  options: StreamOptions = {},
): AsyncGenerator<E> {
  const { signal, onReconnect, maxAttempts = 5 } = options;
  let after = options.afterSequence ?? 0;
  let failures = 0;
  for (;;) {
    // Aborts this one request: when the caller aborts, or when the server keeps it open after the last event.
    const request = new AbortController();
    const abort = () => request.abort(signal?.reason);
    signal?.addEventListener("abort", abort, { once: true });
    let finished = false;
    try {
      const response = await open(after, request.signal);
      for await (const data of readSse(response, request.signal)) {
        if (finished) continue;
        const event = JSON.parse(data) as E;
        const sequence = Number(event.sequence);
        if (sequence <= after) continue;
        after = sequence;
        failures = 0;
        yield event;
        if (isLast(event)) {
          finished = true;
          setTimeout(() => request.abort(), DRAIN_MS);
        }
      }
      if (finished) return;
      // The body ended without a last event: an error after the first event travels only in HTTP trailers,
      // which browsers cannot read, or the connection was closed. Either way, re-attach.
    } catch (error) {
      if (finished) return; // the server did not close in time: it was hung up on, which is fine
      if (signal?.aborted || !retryable(error)) throw error;
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    failures += 1;
    if (failures > maxAttempts) throw new StreamDroppedError(failures - 1);
    onReconnect?.(failures, after);
    await sleep(Math.min(500 * 2 ** (failures - 1), 5000), signal);
  }
}

export class StoryloomClient {
  /**
   * @param baseUrl the gateway, e.g. "http://127.0.0.1:8080" (no trailing slash needed)
   * @param apiKey sent as x-api-key on every call
   */
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {}

  /** fetch() on the gateway with the API key; throws ApiError for any non-2xx answer. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("x-api-key", this.apiKey);
    if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
    const response = await fetch(new URL(path, this.baseUrl.replace(/\/*$/, "/")), { ...init, headers });
    if (!response.ok) throw await ApiError.from(response);
    return response;
  }

  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const init: RequestInit = { method, signal: signal ?? null };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await this.fetch(path, init);
    return (await response.json()) as T;
  }

  // --- conversations -------------------------------------------------------------------------------------------

  createConversation(title = ""): Promise<Conversation> {
    return this.call("POST", "/v1/users/me/conversations", title ? { title } : {});
  }

  /**
   * Sends a message and yields the reply's events: accepted, deltas, then finished or error. A dropped
   * connection re-attaches with StreamReply after the last sequence; if it drops before the first event, the
   * message is sent again with the same request id, which stores nothing new and streams the same reply.
   */
  sendMessage(conversation: string, text: string, options: StreamOptions = {}): AsyncGenerator<ReplyEvent> {
    const requestId = uuid4();
    let reply = "";
    const open = (after: number, signal: AbortSignal): Promise<Response> => {
      const init = { signal, headers: { accept: "text/event-stream" } };
      if (reply === "") {
        return this.fetch(`/v1/${conversation}:sendMessage`, {
          ...init,
          method: "POST",
          body: JSON.stringify({ text, requestId }),
        });
      }
      return this.fetch(`/v1/${reply}:streamReply?afterSequence=${after}`, init);
    };
    const isLast = (event: ReplyEvent): boolean => {
      reply = event.reply || reply;
      return event.finished !== undefined || event.error !== undefined;
    };
    return resumable(open, isLast, options);
  }

  // --- stories and tasks ---------------------------------------------------------------------------------------

  /** Starts writing a story; returns its task at once (watch it with watchTask). */
  createStory(request: CreateStoryRequest): Promise<Task> {
    return this.call("POST", "/v1/users/me/stories", { requestId: uuid4(), ...request });
  }

  getStory(name: string): Promise<Story> {
    return this.call("GET", `/v1/${name}`);
  }

  /** A task's progress events until its terminal event, re-attaching after the last sequence if the connection drops. */
  watchTask(name: string, options: StreamOptions = {}): AsyncGenerator<TaskEvent> {
    const open = (after: number, signal: AbortSignal): Promise<Response> =>
      this.fetch(`/v1/${name}:watch?afterSequence=${after}`, { signal, headers: { accept: "text/event-stream" } });
    return resumable(open, (event: TaskEvent) => TERMINAL_TASK_STATES.has(event.state), options);
  }

  cancelTask(name: string): Promise<Task> {
    return this.call("POST", `/v1/${name}:cancel`, {});
  }

  // --- media ---------------------------------------------------------------------------------------------------

  /**
   * The bytes of a media item (its `downloadPath`, or `media/{id}`) as a Blob with its content type. An <img> or
   * <audio> cannot send the API key, so the page downloads with fetch and shows the Blob through a blob: URL.
   */
  async downloadMedia(pathOrName: string, signal?: AbortSignal): Promise<Blob> {
    const path = pathOrName.startsWith("/") ? pathOrName : `/v1/${pathOrName}:download`;
    const response = await this.fetch(path, { signal: signal ?? null });
    return response.blob();
  }
}
