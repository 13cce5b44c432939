// Server-Sent Events read with fetch(). EventSource cannot send the x-api-key header, so the page reads the
// response body as a stream and splits it into events itself.

/**
 * Splits an SSE byte stream (already decoded to text) into the `data` of each event, following the parts of the
 * SSE format that matter here: events end at a blank line, several `data:` lines join with "\n", lines starting
 * with ":" are comments, other fields (event:, id:, retry:) are ignored, and CRLF, CR or LF end a line.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];

  /** Feeds more text; returns the data of every event it completed. */
  push(text: string): string[] {
    this.buffer += text;
    const events: string[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      // A lone "\r" at the very end may be the first half of "\r\n": wait for more text.
      if (match === null || (match[0] === "\r" && match.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (this.data.length > 0) events.push(this.data.join("\n"));
        this.data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") this.data.push(value);
      }
    }
    return events;
  }
}

/** The data of each event of a `text/event-stream` response, as it arrives. Ends when the body ends. */
export async function* readSse(response: Response, signal?: AbortSignal): AsyncGenerator<string> {
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return; // an unfinished last event (no blank line) is not an event
      yield* parser.push(value);
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    cancel(); // also stops the download when the caller stops early
  }
}
