// The Storyloom web page: an API key field, a chat whose replies stream in as they are written, and a story
// form whose progress (stage, percent, ETA) comes from WatchTask, followed by the scenes with their pictures and
// narration. Everything goes through the Envoy gateway as REST/JSON and Server-Sent Events.

import { ApiError, describeStatus, StoryloomClient } from "./api";
import type { CreateStoryRequest, Scene, Story, TaskEvent } from "./types";

const KEY_STORAGE = "storyloom.apiKey";
const GATEWAY_STORAGE = "storyloom.gateway";

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
    if (error.httpStatus === 401) return `${error.message}. Check the API key.`;
    return error.message;
  }
  if (error instanceof TypeError) return `Cannot reach the gateway (${error.message}). Is it running?`;
  return error instanceof Error ? error.message : String(error);
}

// --- settings: API key and gateway ----------------------------------------------------------------------------

const keyInput = $<HTMLInputElement>("api-key");
const gatewayInput = $<HTMLInputElement>("gateway");
const connection = $("connection");

function loadSettings(): void {
  const query = new URLSearchParams(location.search);
  // `#key=` works too: a fragment never reaches a server log.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const keyFromUrl = query.get("key") ?? fragment.get("key");
  if (keyFromUrl !== null) {
    localStorage.setItem(KEY_STORAGE, keyFromUrl);
    // Keep the key out of the address bar and the history once it is stored.
    query.delete("key");
    fragment.delete("key");
    const search = query.toString();
    const hash = fragment.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}${hash ? `#${hash}` : ""}`);
  }
  keyInput.value = keyFromUrl ?? localStorage.getItem(KEY_STORAGE) ?? "";
  const gatewayFromUrl = query.get("gateway");
  if (gatewayFromUrl !== null) localStorage.setItem(GATEWAY_STORAGE, gatewayFromUrl);
  gatewayInput.value =
    gatewayFromUrl ?? localStorage.getItem(GATEWAY_STORAGE) ?? `${location.protocol}//${location.hostname}:8080`;
}

function client(): StoryloomClient {
  return new StoryloomClient(gatewayInput.value.trim(), keyInput.value.trim());
}

let checkId = 0;

/** Tells whether the key works: one cheap authenticated call. */
async function checkConnection(): Promise<void> {
  const id = ++checkId;
  if (keyInput.value.trim() === "") {
    connection.textContent = "Enter an API key.";
    connection.className = "error";
    return;
  }
  connection.textContent = "Checking…";
  connection.className = "muted";
  try {
    await client().call("GET", "/v1/tasks?pageSize=1");
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
] as const) {
  input.addEventListener("change", () => {
    localStorage.setItem(storage, input.value.trim());
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
    for await (const event of events) {
      if (event.delta) {
        reply.append(event.delta.text);
        reply.dataset.deltas = String(++deltas);
        chatLog.scrollTop = chatLog.scrollHeight;
      } else if (event.finished) {
        reply.textContent = event.finished.message.text; // the stored text: all the deltas together
        reply.dataset.state = "done";
      } else if (event.error) {
        reply.dataset.state = "failed";
        show(chatError, describeStatus(event.error));
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

/** Seconds in a proto3 JSON Duration ("12.500s"), or null. */
function durationSeconds(duration: string | undefined): number | null {
  if (!duration?.endsWith("s")) return null;
  const seconds = Number(duration.slice(0, -1));
  return Number.isFinite(seconds) ? seconds : null;
}

let watchStarted = 0;

function etaText(event: TaskEvent): string {
  if (event.state === "TASK_STATE_SUCCEEDED") return `finished in ${Math.round((Date.now() - watchStarted) / 1000)} s`;
  if (event.state === "TASK_STATE_FAILED") return "failed";
  if (event.state === "TASK_STATE_CANCELLED") return "cancelled";
  let seconds = durationSeconds(event.estimatedRemaining);
  if (seconds === null && event.estimatedCompletionTime) {
    seconds = (Date.parse(event.estimatedCompletionTime) - Date.now()) / 1000;
  }
  if (seconds === null || !Number.isFinite(seconds)) return "estimating…";
  if (seconds < 1) return "almost done";
  if (seconds < 90) return `about ${Math.ceil(seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

function showProgress(event: TaskEvent): void {
  storyProgress.value = event.percent;
  storyProgress.dataset.state = event.state;
  $("story-stage").textContent = event.stage || event.state.replace("TASK_STATE_", "").toLowerCase();
  $("story-percent").textContent = `${event.percent} %`;
  $("story-eta").textContent = etaText(event);
  $("story-message").textContent = event.message;
}

function storyRequest(): CreateStoryRequest {
  const value = (id: string) => $<HTMLInputElement>(id).value.trim();
  const checked = (id: string) => $<HTMLInputElement>(id).checked;
  const character = { name: value("story-character"), description: value("story-description") };
  return {
    requirements: {
      characters: character.name ? [character] : [],
      setting: value("story-setting"),
      tone: $<HTMLSelectElement>("story-tone").value,
    },
    sceneCount: Number(value("story-scenes")) || 0,
    skipIllustrations: !checked("story-pictures"),
    skipNarration: !checked("story-narration"),
  };
}

function assetNote(state: string): string {
  return { ASSET_STATE_SKIPPED: "not asked for", ASSET_STATE_FAILED: "failed", ASSET_STATE_PENDING: "not ready" }[
    state
  ] ?? state;
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

  const load = async (media: Scene["picture"], target: HTMLImageElement | HTMLAudioElement): Promise<void> => {
    if (!media) return;
    const url = URL.createObjectURL(await api.downloadMedia(media.downloadPath));
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

function showStory(api: StoryloomClient, story: Story): void {
  for (const url of blobUrls) URL.revokeObjectURL(url);
  blobUrls = [];
  show(storyHeading, story.title || "Your story");
  scenes.replaceChildren(...story.scenes.map((scene) => sceneCard(api, scene)));
}

async function createStory(request: CreateStoryRequest): Promise<void> {
  const api = client();
  const task = await api.createStory(request);
  runningTask = task.name;
  storyCancel.hidden = false;
  storyStatus.hidden = false;
  watchStarted = Date.now();
  showProgress({ ...task, task: task.name, sequence: task.lastSequence });
  let last: TaskEvent | null = null;
  // From the task's latest event on: a task that already ran (the same request made recently returns its task)
  // shows where it is now instead of replaying its whole history.
  const afterSequence = Math.max(0, Number(task.lastSequence) - 1);
  for await (const event of api.watchTask(task.name, {
    afterSequence,
    onReconnect: (attempt) => ($("story-message").textContent = `Connection lost; re-attaching (attempt ${attempt})…`),
  })) {
    showProgress(event);
    last = event;
  }
  if (last?.state === "TASK_STATE_SUCCEEDED") {
    const result = last.result;
    const story = result?.["@type"]?.endsWith("storyloom.v1.Story")
      ? (result as unknown as Story)
      : await api.getStory(task.target);
    showStory(api, story);
  } else if (last?.state === "TASK_STATE_FAILED" && last.error) {
    show(storyError, `The story failed: ${describeStatus(last.error)}`);
  } else if (last?.state === "TASK_STATE_CANCELLED") {
    show(storyError, "The story was cancelled.");
  }
}

storyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  storyCreate.disabled = true;
  show(storyError, null);
  show(storyHeading, null);
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

loadSettings();
void checkConnection();
