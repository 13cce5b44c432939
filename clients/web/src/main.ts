// The Storyloom web page: a credential field (an API key or a sign-in token), a chat whose replies stream in as
// they are written, and a story
// form whose progress (stage, percent, ETA) comes from WatchTask, with each scene (its picture and narration)
// shown as soon as it is finished (its SCENE_READY event) while the rest are made. Everything goes through the Envoy gateway, as REST/JSON + Server-Sent Events or as gRPC-Web (the
// "Protocol" setting); the messages are the types generated from proto/ (src/gen).
//
// Text from people and models is only ever text here: it is written with textContent (or as Text nodes through
// element() and append()), never as HTML, so a message or a title holding "<img onerror=...>" shows as written.

import { create } from "@bufbuild/protobuf";
import { anyIs, anyUnpack, durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { PROTOCOLS, type Protocol, StoryloomClient, uuid4 } from "./api";
import { ApiError } from "./errors";
import { StoryToneSchema } from "./gen/storyloom/v1/requirements_pb";
import {
  AssetState,
  type CreateStoryRequest,
  CreateStoryRequestSchema,
  CreateStoryVideoRequestSchema,
  type Scene,
  SceneSchema,
  type Story,
  StorySchema,
} from "./gen/storyloom/v1/story_pb";
import { type Media, MediaSchema } from "./gen/storyloom/v1/media_pb";
import { type StoryVideo, StoryVideoSchema, VideoResolutionSchema } from "./gen/storyloom/v1/video_pb";
import {
  type Task,
  type TaskEvent,
  TaskEventSchema,
  TaskEventType,
  TaskState,
  TaskStateSchema,
} from "./gen/storyloom/v1/task_pb";
import { GrpcWebClient } from "./grpcweb";
import { RestClient } from "./rest";

const KEY_STORAGE = "storyloom.apiKey";
const GATEWAY_STORAGE = "storyloom.gateway";
const PROTOCOL_STORAGE = "storyloom.protocol";

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function show(node: HTMLElement, text: string | null): void {
  node.textContent = text ?? "";
  node.hidden = text === null;
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === Code.Unauthenticated) {
      return `${error.message} ${error.reason.startsWith("TOKEN_") ? "Sign in again." : "Check the API key."}`;
    }
    return error.message;
  }
  if (error instanceof TypeError) return `Cannot reach the gateway (${error.message}). Is it running?`;
  return error instanceof Error ? error.message : String(error);
}

// --- settings: API key, gateway and protocol -----------------------------------------------------------------

const keyInput = $<HTMLInputElement>("api-key");
const gatewayInput = $<HTMLInputElement>("gateway");
const protocolInput = $<HTMLSelectElement>("protocol");
const connection = $("connection");

/**
 * The gateway the server of this page names in its config.json (`make run` answers with the gateway it
 * started; a plain static copy of dist/ has an empty one), or "".
 */
async function gatewayFromOrigin(): Promise<string> {
  try {
    const response = await fetch(new URL("config.json", location.href), { cache: "no-store" });
    const config = response.ok ? ((await response.json()) as { gateway?: unknown }) : {};
    return typeof config.gateway === "string" ? config.gateway : "";
  } catch {
    return "";
  }
}

/**
 * Settings come from the address first: `key`, `gateway` and `protocol` in the query or the fragment
 * (`#key=...&gateway=http://127.0.0.1:8090`; a fragment never reaches a server log). Then the gateway the page's
 * own server names, then what was stored on the last visit, then the gateway on port 8080 of the page's host.
 */
async function loadSettings(): Promise<void> {
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromUrl = (name: string) => query.get(name) ?? fragment.get(name);
  const keyFromUrl = fromUrl("key") ?? fromUrl("token");
  if (keyFromUrl !== null) {
    localStorage.setItem(KEY_STORAGE, keyFromUrl);
    // Keep the key out of the address bar and the history once it is stored.
    for (const name of ["key", "token"]) {
      query.delete(name);
      fragment.delete(name);
    }
    const search = query.toString();
    const hash = fragment.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}${hash ? `#${hash}` : ""}`);
  }
  keyInput.value = keyFromUrl ?? localStorage.getItem(KEY_STORAGE) ?? "";
  const gatewayFromUrl = fromUrl("gateway");
  if (gatewayFromUrl !== null) localStorage.setItem(GATEWAY_STORAGE, gatewayFromUrl);
  gatewayInput.value =
    gatewayFromUrl ||
    (await gatewayFromOrigin()) ||
    localStorage.getItem(GATEWAY_STORAGE) ||
    `${location.protocol}//${location.hostname}:8080`;
  const protocol = fromUrl("protocol") ?? localStorage.getItem(PROTOCOL_STORAGE) ?? "rest";
  protocolInput.value = PROTOCOLS.includes(protocol as Protocol) ? protocol : "rest";
  document.body.dataset.protocol = protocolInput.value;
}

function client(): StoryloomClient {
  const gateway = gatewayInput.value.trim();
  const key = keyInput.value.trim();
  return protocolInput.value === "grpc-web" ? new GrpcWebClient(gateway, key) : new RestClient(gateway, key);
}

let checkId = 0;

/** Tells whether the key works: one cheap authenticated call. */
async function checkConnection(): Promise<void> {
  const id = ++checkId;
  if (keyInput.value.trim() === "") {
    connection.textContent = "Enter an API key or a sign-in token.";
    connection.className = "error";
    return;
  }
  connection.textContent = "Checking…";
  connection.className = "muted";
  try {
    await client().checkKey();
    if (id === checkId) {
      connection.textContent = "Connected.";
      connection.className = "muted";
    }
  } catch (error) {
    if (id === checkId) {
      connection.textContent = errorText(error);
      connection.className = "error";
    }
  }
}

for (const [input, storage] of [
  [keyInput, KEY_STORAGE],
  [gatewayInput, GATEWAY_STORAGE],
  [protocolInput, PROTOCOL_STORAGE],
] as const) {
  input.addEventListener("change", () => {
    localStorage.setItem(storage, input.value.trim());
    document.body.dataset.protocol = protocolInput.value;
    void checkConnection();
  });
}
$("settings").addEventListener("submit", (event) => event.preventDefault());

// --- chat -----------------------------------------------------------------------------------------------------

const chatLog = $("chat-log");
const chatForm = $<HTMLFormElement>("chat-form");
const chatInput = $<HTMLInputElement>("chat-input");
const chatSend = $<HTMLButtonElement>("chat-send");
const chatError = $("chat-error");
let conversation: string | null = null;

function bubble(role: "user" | "assistant", text: string): HTMLElement {
  chatLog.querySelector(".hint")?.remove();
  const node = element("div", { className: `message ${role}` }, text);
  chatLog.append(node);
  chatLog.scrollTop = chatLog.scrollHeight;
  return node;
}

async function sendChat(text: string): Promise<void> {
  const api = client();
  conversation ??= (await api.createConversation()).name;
  bubble("user", text);
  const reply = bubble("assistant", "");
  reply.dataset.state = "streaming";
  let deltas = 0;
  try {
    const events = api.sendMessage(conversation, text, {
      onReconnect: (attempt) => (connection.textContent = `Connection lost; re-attaching (attempt ${attempt})…`),
    });
    for await (const { event } of events) {
      if (event.case === "delta") {
        reply.append(event.value.text);
        reply.dataset.deltas = String(++deltas);
        chatLog.scrollTop = chatLog.scrollHeight;
      } else if (event.case === "finished") {
        reply.textContent = event.value.message?.text ?? ""; // the stored text: all the deltas together
        reply.dataset.state = "done";
      } else if (event.case === "error") {
        reply.dataset.state = "failed";
        show(chatError, ApiError.fromStatus(event.value).message);
      }
    }
  } catch (error) {
    reply.dataset.state = "failed";
    throw error;
  }
}

chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = chatInput.value.trim();
  if (!text) return;
  chatInput.value = "";
  chatSend.disabled = true;
  show(chatError, null);
  sendChat(text)
    .catch((error: unknown) => show(chatError, errorText(error)))
    .finally(() => {
      chatSend.disabled = false;
      chatInput.focus();
    });
});

$("chat-new").addEventListener("click", () => {
  conversation = null;
  chatLog.replaceChildren(element("p", { className: "hint" }, "A new conversation starts with your next message."));
  show(chatError, null);
});

// --- stories --------------------------------------------------------------------------------------------------

const storyForm = $<HTMLFormElement>("story-form");
const storyCreate = $<HTMLButtonElement>("story-create");
const storyCancel = $<HTMLButtonElement>("story-cancel");
const storyStatus = $("story-status");
const storyProgress = $<HTMLProgressElement>("story-progress");
const storyError = $("story-error");
const storyHeading = $("story-heading");
const scenes = $("scenes");
let blobUrls: string[] = [];
let runningTask: string | null = null;

let watchStarted = 0;

function stateName(state: TaskState): string {
  return TaskStateSchema.value[state]?.name ?? String(state);
}

function etaText(event: TaskEvent): string {
  if (event.state === TaskState.SUCCEEDED) return `finished in ${Math.round((Date.now() - watchStarted) / 1000)} s`;
  if (event.state === TaskState.FAILED) return "failed";
  if (event.state === TaskState.CANCELLED) return "cancelled";
  let seconds: number | null = null;
  if (event.estimatedRemaining) seconds = durationMs(event.estimatedRemaining) / 1000;
  else if (event.estimatedCompletionTime) seconds = (timestampMs(event.estimatedCompletionTime) - Date.now()) / 1000;
  if (seconds === null || !Number.isFinite(seconds)) return "estimating…";
  if (seconds < 1) return "almost done";
  if (seconds < 90) return `about ${Math.ceil(seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

function showProgress(event: TaskEvent): void {
  storyProgress.value = event.percent;
  storyProgress.dataset.state = stateName(event.state);
  $("story-stage").textContent = event.stage || stateName(event.state).replace("TASK_STATE_", "").toLowerCase();
  $("story-percent").textContent = `${event.percent} %`;
  $("story-eta").textContent = etaText(event);
  $("story-message").textContent = event.message;
}

/** The task as it was when it was created, as a progress event. */
function taskProgress(task: Task): TaskEvent {
  const { state, stage, percent, message, estimatedCompletionTime } = task;
  return create(TaskEventSchema, { task: task.name, sequence: task.lastSequence, state, stage, percent, message,
    estimatedCompletionTime });
}

function storyRequest(): CreateStoryRequest {
  const value = (id: string) => $<HTMLInputElement>(id).value.trim();
  const checked = (id: string) => $<HTMLInputElement>(id).checked;
  const character = { name: value("story-character"), description: value("story-description") };
  const tone = $<HTMLSelectElement>("story-tone").value; // the enum value's name, e.g. STORY_TONE_CALM
  return create(CreateStoryRequestSchema, {
    parent: "users/me",
    requestId: uuid4(), // a retry of this request returns the same task (AIP-155)
    source: {
      case: "requirements",
      value: {
        title: value("story-title-field"),
        characters: character.name ? [character] : [],
        setting: value("story-setting"),
        tone: StoryToneSchema.values.find((v) => v.name === tone)?.number ?? 0,
      },
    },
    sceneCount: Number(value("story-scenes")) || 0,
    skipIllustrations: !checked("story-pictures"),
    skipNarration: !checked("story-narration"),
  });
}

function assetNote(state: AssetState): string {
  const notes: Partial<Record<AssetState, string>> = {
    [AssetState.SKIPPED]: "not asked for",
    [AssetState.FAILED]: "failed",
    [AssetState.PENDING]: "not ready",
  };
  return notes[state] ?? "missing";
}

/** What a scene card shows: a card with the same key is kept (its media are not fetched again). */
function sceneKey(scene: Scene): string {
  return `${scene.index}|${scene.picture?.name ?? ""}|${scene.narration?.name ?? ""}`;
}

/** One scene card. Its picture and narration are fetched with the API key and shown through blob: URLs. */
function sceneCard(api: StoryloomClient, scene: Scene): HTMLElement {
  const picture = element("img", { alt: scene.title, decoding: "async" });
  const audio = element("audio", { preload: "auto" });
  const play = element("button", { type: "button", className: "play", disabled: true }, "▶ Play");
  const card = element(
    "article",
    { className: "scene" },
    picture,
    element("div", { className: "body" }, element("h4", {}, scene.title), element("p", {}, scene.text), play, audio),
  );
  card.dataset.index = String(scene.index);
  card.dataset.key = sceneKey(scene);

  const load = async (media: Media, target: HTMLImageElement | HTMLAudioElement): Promise<void> => {
    const url = URL.createObjectURL(await api.downloadMedia(media));
    blobUrls.push(url);
    target.src = url;
  };
  if (scene.picture) {
    load(scene.picture, picture).catch((error: unknown) => (picture.alt = `picture: ${errorText(error)}`));
  } else {
    picture.alt = `picture ${assetNote(scene.pictureState)}`;
  }
  if (scene.narration) {
    load(scene.narration, audio).then(
      () => (play.disabled = false),
      (error: unknown) => (play.textContent = `narration: ${errorText(error)}`),
    );
  } else {
    play.textContent = `narration ${assetNote(scene.narrationState)}`;
  }
  play.addEventListener("click", () => {
    if (audio.paused) {
      for (const other of scenes.querySelectorAll("audio")) if (other !== audio) other.pause();
      audio.play().catch((error: unknown) => show(storyError, `Cannot play the narration: ${errorText(error)}`));
    } else {
      audio.pause();
    }
  });
  audio.addEventListener("play", () => (play.textContent = "❚❚ Pause"));
  audio.addEventListener("pause", () => (play.textContent = "▶ Play"));
  audio.addEventListener("ended", () => (play.textContent = "▶ Play"));
  return card;
}

/** The finished story; the scenes already shown as they finished stay as they are. */
function showStory(api: StoryloomClient, story: Story): void {
  const shown = new Map([...scenes.querySelectorAll<HTMLElement>("article.scene")].map((c) => [c.dataset.key, c]));
  show(storyHeading, story.title || "Your story");
  scenes.replaceChildren(...story.scenes.map((scene) => shown.get(sceneKey(scene)) ?? sceneCard(api, scene)));
  shownStory = story.name;
  videoPlayer.hidden = true;
  videoPlayer.removeAttribute("src");
  videoSection.hidden = false;
}

/** Shows a scene that just finished (a SCENE_READY event) in its place among those shown, while the rest are made. */
function addScene(api: StoryloomClient, scene: Scene): void {
  const card = sceneCard(api, scene);
  const after = [...scenes.querySelectorAll<HTMLElement>("article.scene")].find(
    (other) => Number(other.dataset.index) > scene.index,
  );
  scenes.insertBefore(card, after ?? null);
}

/** Follows a task in the progress bar until it ends; returns its last event. `onScene` gets each finished scene. */
async function follow(
  api: StoryloomClient,
  task: Task,
  onScene?: (scene: Scene) => void,
): Promise<TaskEvent | null> {
  runningTask = task.name;
  storyCancel.hidden = false;
  storyStatus.hidden = false;
  watchStarted = Date.now();
  showProgress(taskProgress(task));
  let last: TaskEvent | null = null;
  const afterSequence = task.lastSequence > 0n ? task.lastSequence - 1n : 0n;
  for await (const event of api.watchTask(task.name, {
    afterSequence,
    onReconnect: (attempt) => ($("story-message").textContent = `Connection lost; re-attaching (attempt ${attempt})…`),
  })) {
    showProgress(event);
    if (onScene && event.type === TaskEventType.SCENE_READY && event.part && anyIs(event.part, SceneSchema)) {
      const scene = anyUnpack(event.part, SceneSchema);
      if (scene) onScene(scene);
    }
    last = event;
  }
  return last;
}

// --- the story as a video -------------------------------------------------------------------------------------

const videoSection = $("video");
const videoForm = $<HTMLFormElement>("video-form");
const videoCreate = $<HTMLButtonElement>("video-create");
const videoPlayer = $<HTMLVideoElement>("video-player");
let shownStory = "";

/** The video, its poster and its captions, fetched with the credential and shown through blob: URLs. */
async function playVideo(api: StoryloomClient, video: StoryVideo): Promise<void> {
  const media = video.media.find((m) => m.name === video.video) ?? create(MediaSchema, { name: video.video });
  const fetchUrl = async (item: Media): Promise<string> => {
    const url = URL.createObjectURL(await api.downloadMedia(item));
    blobUrls.push(url);
    return url;
  };
  const rendition = (purpose: string): Media | null => {
    const found = media.renditions.find((r) => r.purpose === purpose);
    return found ? create(MediaSchema, { name: found.media, contentType: found.contentType }) : null;
  };
  const poster = rendition("poster");
  if (poster) videoPlayer.poster = await fetchUrl(poster);
  videoPlayer.replaceChildren();
  const captions = rendition("captions");
  if (captions) {
    const track = element("track", { kind: "captions", srclang: "en", label: "Captions", default: true });
    track.src = await fetchUrl(captions);
    videoPlayer.append(track);
  }
  videoPlayer.src = await fetchUrl(media);
  videoPlayer.dataset.video = video.name;
  videoPlayer.hidden = false;
}

async function createVideo(): Promise<void> {
  const api = client();
  const resolution = $<HTMLSelectElement>("video-resolution").value;
  const task = await api.createStoryVideo(create(CreateStoryVideoRequestSchema, {
    parent: shownStory,
    requestId: uuid4(),
    options: {
      resolution: VideoResolutionSchema.values.find((v) => v.name === resolution)?.number ?? 0,
      captions: $<HTMLInputElement>("video-captions").checked,
    },
  }));
  const last = await follow(api, task);
  if (last?.state === TaskState.SUCCEEDED && last.result && anyIs(last.result, StoryVideoSchema)) {
    const video = anyUnpack(last.result, StoryVideoSchema);
    if (video) await playVideo(api, video);
  } else if (last?.state === TaskState.FAILED && last.error) {
    show(storyError, `The video failed: ${ApiError.fromStatus(last.error).message}`);
  } else if (last?.state === TaskState.CANCELLED) {
    show(storyError, "The video was cancelled.");
  }
}

videoForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!shownStory) return;
  videoCreate.disabled = true;
  show(storyError, null);
  createVideo()
    .catch((error: unknown) => show(storyError, errorText(error)))
    .finally(() => {
      videoCreate.disabled = false;
      storyCancel.hidden = true;
      runningTask = null;
    });
});

async function createStory(request: CreateStoryRequest): Promise<void> {
  const api = client();
  // From the task's latest event on (in follow): a task that already ran (the same request made recently returns
  // its task) shows where it is now instead of replaying its whole history.
  const task = await api.createStory(request);
  const last = await follow(api, task, (scene) => addScene(api, scene));
  if (last?.state === TaskState.SUCCEEDED) {
    // The terminal event carries the Story; a task made by an older server may not, then it is fetched.
    const story: Story =
      (last.result && anyIs(last.result, StorySchema) && anyUnpack(last.result, StorySchema)) ||
      (await api.getStory(task.target));
    showStory(api, story);
  } else if (last?.state === TaskState.FAILED && last.error) {
    show(storyError, `The story failed: ${ApiError.fromStatus(last.error).message}`);
  } else if (last?.state === TaskState.CANCELLED) {
    show(storyError, "The story was cancelled.");
  }
}

storyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  storyCreate.disabled = true;
  show(storyError, null);
  show(storyHeading, null);
  for (const url of blobUrls) URL.revokeObjectURL(url);
  blobUrls = [];
  scenes.replaceChildren();
  storyProgress.value = 0;
  createStory(storyRequest())
    .catch((error: unknown) => show(storyError, errorText(error)))
    .finally(() => {
      storyCreate.disabled = false;
      storyCancel.hidden = true;
      runningTask = null;
    });
});

storyCancel.addEventListener("click", () => {
  if (runningTask === null) return;
  client()
    .cancelTask(runningTask)
    .catch((error: unknown) => show(storyError, errorText(error)));
});

void loadSettings().then(checkConnection);
