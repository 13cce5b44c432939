// The JSON shapes the gateway sends (proto3 JSON of proto/storyloom/v1: lowerCamelCase names, enums by name,
// int64 as strings, Durations as "1.5s", Timestamps as RFC 3339). Only the fields this page reads are listed.

/** google.rpc.Status as JSON: every error body, and the `error` of a failed task or reply. */
export interface RpcStatus {
  code: number;
  message: string;
  /** Only on the gateway's own errors (e.g. "UNAVAILABLE"). */
  status?: string;
  details?: StatusDetail[];
}

export interface StatusDetail {
  "@type": string;
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
  fieldViolations?: { field: string; description: string }[];
  retryDelay?: string;
}

export type TaskState =
  | "TASK_STATE_UNSPECIFIED"
  | "TASK_STATE_PENDING"
  | "TASK_STATE_RUNNING"
  | "TASK_STATE_SUCCEEDED"
  | "TASK_STATE_FAILED"
  | "TASK_STATE_CANCELLED";

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  "TASK_STATE_SUCCEEDED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELLED",
]);

export interface Task {
  name: string;
  kind: string;
  state: TaskState;
  stage: string;
  percent: number;
  message: string;
  estimatedCompletionTime?: string;
  /** For a story: the story's name. */
  target: string;
  lastSequence: string;
  error?: RpcStatus;
}

/** One event of WatchTask (an SSE `data:` line of GET /v1/tasks/{id}:watch). */
export interface TaskEvent {
  task: string;
  sequence: string;
  state: TaskState;
  stage: string;
  percent: number;
  message: string;
  estimatedCompletionTime?: string;
  /** A Duration, e.g. "12.500s". */
  estimatedRemaining?: string;
  /** On the terminal event of a story task: the Story, with "@type". */
  result?: { "@type": string } & Record<string, unknown>;
  error?: RpcStatus;
}

export interface Media {
  name: string;
  contentType: string;
  sizeBytes: string;
  sha256: string;
  /** The REST path of the raw bytes, e.g. "/v1/media/abc:download". */
  downloadPath: string;
  image?: { width: number; height: number };
  audio?: { duration?: string; sampleRateHertz?: number; channelCount?: number };
}

export type AssetState =
  | "ASSET_STATE_UNSPECIFIED"
  | "ASSET_STATE_PENDING"
  | "ASSET_STATE_READY"
  | "ASSET_STATE_FAILED"
  | "ASSET_STATE_SKIPPED";

export interface Scene {
  index: number;
  title: string;
  text: string;
  mood: string;
  picture?: Media;
  pictureState: AssetState;
  narration?: Media;
  narrationState: AssetState;
}

export interface Story {
  name: string;
  title: string;
  state: string;
  premise: string;
  scenes: Scene[];
  plannedSceneCount: number;
  task: string;
}

export interface Character {
  name: string;
  description?: string;
}

export interface StoryRequirements {
  characters?: Character[];
  setting?: string;
  tone?: string;
}

export interface CreateStoryRequest {
  requirements: StoryRequirements;
  sceneCount?: number;
  skipIllustrations?: boolean;
  skipNarration?: boolean;
  requestId?: string;
}

export interface Conversation {
  name: string;
  title: string;
  messageCount: number;
}

export interface Message {
  name: string;
  role: string;
  text: string;
  state: string;
  finishReason: string;
  task: string;
}

/** One event of SendMessage / StreamReply: exactly one of accepted, delta, finished, error is set. */
export interface ReplyEvent {
  sequence: string;
  /** The assistant message being written. */
  reply: string;
  accepted?: { userMessage: Message; task: string };
  delta?: { text: string };
  finished?: { message: Message };
  error?: RpcStatus;
}
