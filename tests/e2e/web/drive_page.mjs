// Drives the Storyloom web page (clients/web) in headless Chromium with playwright-core, as a person would use
// it, and prints what was seen as one JSON object on stdout; tests/web/test_web_page.py checks it.
//
//   node tests/web/drive_page.mjs '{"url": "...", "chromium": "/usr/bin/chromium", "artifacts": "test-artifacts/web",
//                                   "screenshot": "storyloom-page.png"}'
//
// playwright-core comes from clients/web/node_modules (`make web`); it never downloads a browser: Debian's
// Chromium is launched through executablePath. On any failure a screenshot is still written (failure-*.png) and the
// JSON says what went wrong; the exit code is then 1.

import { createRequire } from "node:module";
import { mkdir } from "node:fs/promises";
import path from "node:path";

const require = createRequire(new URL("../../../clients/web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const config = JSON.parse(process.argv[2]);
const { url, artifacts } = config;
const timeouts = { chat: 30_000, story: 150_000, ...config.timeouts };

// The flags this machine needs (see /work/.library/env/machines/python-svc.md): no sandbox as root, no GPU, and
// no background connections to Google, which the closed network would refuse.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
  "--mute-audio",
];

const result = { problems: [], steps: [] };
const started = performance.now();
const step = (name) => result.steps.push({ name, ms: Math.round(performance.now() - started) });

await mkdir(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
let page;
try {
  result.browserVersion = browser.version();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.on("pageerror", (error) => result.problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") result.problems.push(`console error: ${message.text()}`);
  });
  page.on("requestfailed", (request) => {
    // A media download cancelled by navigation is not a problem; nothing navigates here, so report all.
    result.problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) result.problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  // Every call to the gateway (anything not from the page's own origin), to tell which protocol the page spoke.
  result.gatewayRequests = [];
  page.on("request", (request) => {
    const target = new URL(request.url());
    if (target.origin === new URL(url).origin || request.method() === "OPTIONS") return;
    result.gatewayRequests.push({
      origin: target.origin,
      method: request.method(),
      path: target.pathname,
      contentType: request.headers()["content-type"] ?? null,
      accept: request.headers()["accept"] ?? null,
    });
  });

  // --- the page loads, takes its settings from the address (and the gateway maybe from its server) and checks the key
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("connection")?.textContent === "Connected.", null, {
    timeout: 15_000,
  });
  result.settings = await page.evaluate(() => ({
    keyFieldFilled: document.getElementById("api-key").value.length > 0,
    keyStored: localStorage.getItem("storyloom.apiKey") === document.getElementById("api-key").value,
    addressBar: location.href,
    gateway: document.getElementById("gateway").value,
    protocol: document.getElementById("protocol").value,
  }));
  step("loaded");

  // --- chat: the reply appears word by word ---------------------------------------------------------------------
  await page.evaluate(() => {
    // What a person would see over time: the reply's length each time the chat log changes.
    window.__replySamples = [];
    const log = document.getElementById("chat-log");
    new MutationObserver(() => {
      const reply = log.querySelector(".message.assistant:last-of-type");
      if (reply) window.__replySamples.push({ t: performance.now(), length: reply.textContent.length, state: reply.dataset.state });
    }).observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await page.fill("#chat-input", config.chatText ?? "Hello! I would like a story about a brave little turtle.");
  await page.click("#chat-send");
  await page.waitForSelector(".message.assistant[data-state=done], .message.assistant[data-state=failed]", {
    timeout: timeouts.chat,
  });
  result.chat = await page.evaluate(() => {
    const reply = document.querySelector(".message.assistant:last-of-type");
    const lengths = window.__replySamples.filter((s) => s.state === "streaming").map((s) => s.length);
    return {
      user: document.querySelector(".message.user")?.textContent ?? null,
      reply: reply.textContent,
      state: reply.dataset.state,
      deltas: Number(reply.dataset.deltas ?? 0),
      // Distinct non-empty lengths shown while the reply was still streaming.
      partialLengths: [...new Set(lengths.filter((n) => n > 0))],
      error: document.getElementById("chat-error").hidden ? null : document.getElementById("chat-error").textContent,
    };
  });
  step("chat");

  // --- story: progress to 100 %, then scenes with pictures and narration ----------------------------------------
  await page.evaluate(() => {
    window.__progress = [];
    const bar = document.getElementById("story-progress");
    const status = document.getElementById("story-status");
    new MutationObserver(() => {
      window.__progress.push({
        value: bar.value,
        stage: document.getElementById("story-stage").textContent,
        percent: document.getElementById("story-percent").textContent,
        eta: document.getElementById("story-eta").textContent,
        scenesShown: document.querySelectorAll("#scenes .scene").length,
      });
    }).observe(status, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const story = config.story ?? {};
  await page.fill("#story-character", story.character ?? "Milo");
  await page.fill("#story-description", story.description ?? "a curious little robot");
  await page.fill("#story-setting", story.setting ?? "a city on the moon");
  await page.selectOption("#story-tone", story.tone ?? "STORY_TONE_ADVENTUROUS");
  await page.fill("#story-scenes", String(story.scenes ?? 2));
  await page.click("#story-create");
  await page.waitForFunction(
    () => {
      if (!document.getElementById("story-error").hidden) return true; // fail fast, with the message
      // The heading shows once the whole story is (scenes show one by one before it, as each finishes).
      if (document.getElementById("story-heading").hidden) return false;
      const cards = [...document.querySelectorAll("#scenes .scene")];
      return (
        cards.length > 0 &&
        cards.every((card) => {
          const img = card.querySelector("img");
          const audio = card.querySelector("audio");
          return img.complete && img.naturalWidth > 0 && audio.src.startsWith("blob:") && audio.readyState >= 1;
        })
      );
    },
    null,
    { timeout: timeouts.story, polling: 100 },
  );
  step("story");
  result.story = await page.evaluate(() => ({
    error: document.getElementById("story-error").hidden ? null : document.getElementById("story-error").textContent,
    progressValue: document.getElementById("story-progress").value,
    progressState: document.getElementById("story-progress").dataset.state,
    percentText: document.getElementById("story-percent").textContent,
    stage: document.getElementById("story-stage").textContent,
    eta: document.getElementById("story-eta").textContent,
    heading: document.getElementById("story-heading").textContent,
    progressSeen: window.__progress,
    scenes: [...document.querySelectorAll("#scenes .scene")].map((card) => {
      const img = card.querySelector("img");
      const audio = card.querySelector("audio");
      const box = img.getBoundingClientRect();
      return {
        title: card.querySelector("h4").textContent,
        text: card.querySelector("p").textContent,
        image: { src: img.src, complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, shownWidth: box.width, shownHeight: box.height },
        audio: { src: audio.src, readyState: audio.readyState, duration: audio.duration },
        playButton: { text: card.querySelector("button.play").textContent, disabled: card.querySelector("button.play").disabled },
      };
    }),
  }));

  // --- the first scene's play button plays its narration --------------------------------------------------------
  if (result.story.scenes.length > 0) {
    await page.click("#scenes .scene:first-child button.play");
    // The audio plays (not paused, its clock moving) and its button says so, both read in one page turn: the "play"
    // event that relabels the button is queued by play() and, on a busy machine, can run after the clock has moved
    // and after a DevTools call (CI once read "Play" beside a narration that was playing, 24 s or more long).
    const playing = await page.waitForFunction(
      () => {
        const card = document.querySelector("#scenes .scene:first-child");
        const audio = card.querySelector("audio");
        const button = card.querySelector("button.play").textContent;
        return !audio.paused && audio.currentTime > 0 && button !== "▶ Play" && { button, currentTime: audio.currentTime };
      },
      null,
      { timeout: 15_000 },
    );
    result.playing = await playing.jsonValue();
    await page.click("#scenes .scene:first-child button.play"); // pause again
    await page.waitForFunction(() => document.querySelector("#scenes .scene:first-child audio").paused);
    step("played");
  }

  // --- the finished story as a video: it loads through the gateway, knows its length and plays for a second -------
  if (config.video) {
    await page.selectOption("#video-resolution", config.video.resolution ?? "VIDEO_RESOLUTION_360P");
    await page.click("#video-create");
    await page.waitForFunction(
      () => {
        if (!document.getElementById("story-error").hidden) return true;
        const video = document.getElementById("video-player");
        return !video.hidden && video.src.startsWith("blob:") && video.readyState >= 1 && video.duration > 0;
      },
      null,
      { timeout: timeouts.story, polling: 100 },
    );
    step("video loaded");
    const error = await page.evaluate(() =>
      document.getElementById("story-error").hidden ? null : document.getElementById("story-error").textContent);
    if (error) throw new Error(`the video failed: ${error}`);
    await page.evaluate(() => {
      const video = document.getElementById("video-player");
      video.muted = true;
      return video.play();
    });
    await page.waitForFunction(() => document.getElementById("video-player").currentTime >= 1.0, null, {
      timeout: 30_000,
    });
    result.video = await page.evaluate(() => {
      const video = document.getElementById("video-player");
      const track = video.textTracks[0];
      return {
        name: video.dataset.video,
        duration: video.duration,
        currentTime: video.currentTime,
        paused: video.paused,
        videoWidth: video.videoWidth,
        videoHeight: video.videoHeight,
        poster: video.poster.startsWith("blob:"),
        error: video.error ? video.error.message || String(video.error.code) : null,
        captions: track ? { kind: track.kind, cues: track.cues ? track.cues.length : null } : null,
      };
    });
    step("video played");
  }

  result.screenshot = path.resolve(artifacts, config.screenshot ?? "storyloom-page.png");
  await page.screenshot({ path: result.screenshot, fullPage: true });
  step("screenshot");

  // --- a wrong key is refused, and the page says why (the error's code and ErrorInfo reason) ---------------------
  // Its 401 and console message are expected: they are kept apart from the problems above.
  const problemsBefore = result.problems.length;
  await page.fill("#api-key", "not-a-key");
  await page.dispatchEvent("#api-key", "change");
  await page.waitForFunction(() => document.getElementById("connection").className === "error", null, {
    timeout: 15_000,
  });
  result.badKey = { connection: await page.textContent("#connection") };
  result.badKey.problems = result.problems.splice(problemsBefore);
  step("bad key");
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.error = String(error?.stack ?? error);
  if (page) {
    result.screenshot = path.resolve(artifacts, `failure-${config.screenshot ?? "storyloom-page.png"}`);
    await page.screenshot({ path: result.screenshot, fullPage: true }).catch(() => undefined);
    result.pageText = await page.evaluate(() => document.body.innerText).catch(() => null);
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exitCode = result.ok ? 0 : 1;
