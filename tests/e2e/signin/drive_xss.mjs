// Puts markup where people and models write text on the Storyloom web page (a chat message, a story's title and
// character), in headless Chromium with playwright-core, and reports whether any of it ran and what was shown.
// tests/e2e/signin/test_text_stays_text.py checks the JSON it prints.
//
//   node drive_xss.mjs '{"url": "...", "chromium": "/usr/bin/chromium", "artifacts": "...", "payload": "...",
//                        "title": "...", "character": "..."}'

import { createRequire } from "node:module";
import { mkdir } from "node:fs/promises";
import path from "node:path";

const require = createRequire(new URL("../../../clients/web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const config = JSON.parse(process.argv[2]);
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio"];

const result = { problems: [], dialogs: [] };
await mkdir(config.artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
let page;
try {
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  // Anything the markup runs reports here (the payloads call window.__ran.push) or opens a dialog.
  await page.addInitScript(() => { window.__ran = []; });
  page.on("dialog", (dialog) => { result.dialogs.push(dialog.message()); void dialog.dismiss(); });
  page.on("pageerror", (error) => result.problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => result.problems.push(`request failed: ${request.url()}`));
  // A payload's <img src=x> would ask the page's own server for "x".
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.endsWith("/x")) result.problems.push(`markup loaded ${request.url()}`);
  });

  await page.goto(config.url);
  await page.waitForFunction(() => document.getElementById("connection")?.textContent === "Connected.", null, { timeout: 15_000 });

  await page.fill("#chat-input", config.payload);
  await page.click("#chat-send");
  await page.waitForSelector(".message.assistant[data-state=done], .message.assistant[data-state=failed]", { timeout: 30_000 });

  await page.fill("#story-title-field", config.title);
  await page.fill("#story-character", config.character);
  await page.fill("#story-scenes", "1");
  await page.uncheck("#story-pictures");
  await page.uncheck("#story-narration");
  await page.click("#story-create");
  // The whole story: scene cards show one by one as each scene is ready, the heading once the story is.
  await page.waitForFunction(
    () => !document.getElementById("story-error").hidden ||
      (!document.getElementById("story-heading").hidden && document.querySelectorAll("#scenes .scene").length > 0),
    null, { timeout: 60_000, polling: 100 });

  result.seen = await page.evaluate(() => ({
    ran: window.__ran,
    userMessage: document.querySelector(".message.user")?.textContent ?? null,
    userMessageChildren: document.querySelector(".message.user")?.children.length ?? null,
    reply: document.querySelector(".message.assistant")?.textContent ?? null,
    heading: document.getElementById("story-heading").textContent,
    storyError: document.getElementById("story-error").hidden ? null : document.getElementById("story-error").textContent,
    scenes: [...document.querySelectorAll("#scenes .scene")].map((card) => ({
      title: card.querySelector("h4").textContent, text: card.querySelector("p").textContent,
      titleChildren: card.querySelector("h4").children.length, textChildren: card.querySelector("p").children.length,
    })),
    // Elements the markup would have made, had it been parsed as HTML.
    injected: document.querySelectorAll(
      "#chat-log img, #chat-log script, #chat-log svg, #story-heading *, #scenes h4 *, #scenes p *, img[src='x']").length,
  }));
  result.screenshot = path.resolve(config.artifacts, "text-stays-text.png");
  await page.screenshot({ path: result.screenshot, fullPage: true });
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.error = String(error?.stack ?? error);
  if (page) result.pageText = await page.evaluate(() => document.body.innerText).catch(() => null);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exitCode = result.ok ? 0 : 1;
