"""`storyloom-cli`: Storyloom at a terminal (typer + rich), built on `StoryloomClient`.

    storyloom-cli chat                                   # talk to the story assistant; replies stream as written
    storyloom-cli story create -c "Luna: a brave fox" --setting "an enchanted forest" --tone heartwarming --scenes 3
    storyloom-cli story export users/me/stories/ID -o luna.md
    storyloom-cli story export users/me/stories/ID --format epub   # or pdf: a picture book
    storyloom-cli story bundle users/me/stories/ID -o luna.zip     # every asset + manifest, checksums verified
    storyloom-cli illustrate tale.pdf --style watercolor           # .txt, .md, .pdf or .docx
    storyloom-cli media download media/ID -o picture.png  # verifies the sha256

Settings come from flags or the environment: STORYLOOM_ADDR (default 127.0.0.1:50051; https://HOST:PORT for TLS,
with STORYLOOM_CA_FILE to trust a private CA), and STORYLOOM_TOKEN (an identity provider's ID token) or
STORYLOOM_API_KEY, or a key file (STORYLOOM_API_KEY_FILE, default data/dev-api-key, which `make run` writes).
Results go to stdout; progress, notices and errors to stderr.

Exit codes: 0 done; 1 the server refused the call or the work failed (the message says why, with the
google.rpc.Status reason and field violations); 2 bad usage or no API key; 3 the server cannot be reached;
4 a download did not match its checksum; 130 interrupted.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import v1
from .cli_common import (
    EXIT_FAILED,
    app,
    choice,
    choices,
    err,
    follow,
    full_name,
    media_app,
    out,
    print_rows,
    print_scene,
    print_story,
    run,
    state_name,
    story_app,
    task_failed,
    tasks_app,
)
from .client import StoryloomClient
from .errors import StoryloomError

# --- chat --------------------------------------------------------------------------------------------------------

@app.command()
def chat(
    ctx: typer.Context,
    conversation: Annotated[str | None, typer.Argument(
        help="Conversation to go on with (users/me/conversations/ID or ID); a new one by default.",
        show_default=False)] = None,
    message: Annotated[list[str] | None, typer.Option(
        "--message", "-m", help="Send this and exit (repeat for several messages); without it, chat interactively.",
        show_default=False)] = None,
    title: Annotated[str, typer.Option(help="Title of a new conversation.")] = "",
) -> None:
    """Chat with the story assistant; each reply is printed as it is written.

    Interactively, type a message and press Enter; an empty line or Ctrl-D ends the chat. Messages can also come
    from stdin, one per line. The conversation's name goes to stderr: pass it next time to go on, or give it to
    `story create --conversation`.
    """
    interactive = not message and sys.stdin.isatty()

    async def talk(client: StoryloomClient) -> int:
        name = full_name(conversation, "users/me/conversations") if conversation else (
            await client.create_conversation(title)).name
        err.print(f"conversation: {name}", markup=False)
        if interactive:
            err.print("Type a message and press Enter; an empty line or Ctrl-D ends the chat.", markup=False)
        texts = iter(message) if message else None
        while True:
            if texts is not None:
                text = next(texts, None)
            else:
                text = await asyncio.to_thread(read_line, "you> " if interactive else "")
            if not text:
                return 0
            if interactive:
                out.print("storyloom> ", end="", markup=False)
            code = await stream_reply(client, name, text)
            if code:
                return code

    run(ctx, talk)


def read_line(prompt: str) -> str | None:
    try:
        return input(prompt).strip() if prompt else (sys.stdin.readline() or "").strip() or None
    except EOFError:
        return None


async def stream_reply(client: StoryloomClient, conversation: str, text: str) -> int:
    def reconnecting(error: StoryloomError, last: int) -> None:
        err.print(f"\n(connection lost: {error.message}; re-attaching after event {last})", markup=False)

    async for event in client.chat(conversation, text, on_reconnect=reconnecting):
        if event.delta is not None:
            sys.stdout.write(event.delta.text)
            sys.stdout.flush()
        elif event.finished is not None:
            sys.stdout.write("\n")
            sys.stdout.flush()
            message = event.finished.message
            if message is not None and message.state is not v1.MessageState.COMPLETE:
                err.print(f"(the reply ended {state_name(message.state)}: "
                          f"{state_name(message.finish_reason)})", markup=False)
        elif event.error is not None:
            sys.stdout.write("\n")
            sys.stdout.flush()
            err.print(f"error: the reply failed: {StoryloomError.from_rpc_status(event.error).describe()}",
                      markup=False)
            return EXIT_FAILED
    return 0


# --- stories -----------------------------------------------------------------------------------------------------

def parse_character(value: str) -> v1.Character:
    name, _, description = value.partition(":")
    if not name.strip():
        raise typer.BadParameter(f"{value!r} has no name; use 'Name' or 'Name: who they are'",
                                 param_hint="--character")
    return v1.Character(name=name.strip(), description=description.strip())


@story_app.command("create")
def story_create(
    ctx: typer.Context,
    character: Annotated[list[str] | None, typer.Option(
        "--character", "-c", help="'Name' or 'Name: who they are'; repeat for more, main character first.",
        show_default=False)] = None,
    setting: Annotated[str, typer.Option(help="Where and when it happens.")] = "",
    tone: Annotated[str | None, typer.Option(help=f"One of: {choices(v1.StoryTone)}.", show_default=False)] = None,
    title: Annotated[str, typer.Option(help="A working title.")] = "",
    genre: Annotated[str, typer.Option(help="For example 'fairy tale'.")] = "",
    length: Annotated[str | None, typer.Option(help=f"One of: {choices(v1.StoryLength)}.",
                                               show_default=False)] = None,
    audience: Annotated[str | None, typer.Option(help=f"One of: {choices(v1.AudienceAgeGroup)}.",
                                                 show_default=False)] = None,
    rating: Annotated[str | None, typer.Option(help=f"One of: {choices(v1.ContentRating)}.",
                                               show_default=False)] = None,
    ending: Annotated[str | None, typer.Option(help=f"One of: {choices(v1.EndingPreference)}.",
                                               show_default=False)] = None,
    language: Annotated[str, typer.Option(help="BCP-47 code, for example 'en'.")] = "",
    illustration_style: Annotated[str, typer.Option(help="For example 'watercolor'.")] = "",
    request: Annotated[str, typer.Option("--request", help="Anything else, in your words.")] = "",
    scenes: Annotated[int, typer.Option(help="Number of scenes, 1 to 12 (0: from the length).")] = 0,
    conversation: Annotated[str, typer.Option(help="Write it from this conversation instead of flags.")] = "",
    text_file: Annotated[Path | None, typer.Option(
        help="Split, illustrate and narrate this story text instead.", exists=True, dir_okay=False,
        show_default=False)] = None,
    no_pictures: Annotated[bool, typer.Option("--no-pictures", help="Skip the illustrations.")] = False,
    no_narration: Annotated[bool, typer.Option("--no-narration", help="Skip the narration.")] = False,
    regenerate: Annotated[bool, typer.Option(help="A new story even if an identical one was just made.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Print the task and return at once.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the finished story as JSON.")] = False,
) -> None:
    """Write a story with a live progress bar (stage, percent, ETA); it survives a dropped connection."""
    sources = sum(bool(s) for s in (conversation, text_file))
    if sources > 1:
        raise typer.BadParameter("give --conversation or --text-file, not both")
    requirements = v1.StoryRequirements(
        title=title, genre=genre, characters=[parse_character(c) for c in character or ()], setting=setting,
        tone=choice(v1.StoryTone, tone, "--tone") or v1.StoryTone.UNSPECIFIED,
        length=choice(v1.StoryLength, length, "--length") or v1.StoryLength.UNSPECIFIED,
        audience_age_group=choice(v1.AudienceAgeGroup, audience, "--audience") or v1.AudienceAgeGroup.UNSPECIFIED,
        content_rating=choice(v1.ContentRating, rating, "--rating") or v1.ContentRating.UNSPECIFIED,
        ending_preference=choice(v1.EndingPreference, ending, "--ending") or v1.EndingPreference.UNSPECIFIED,
        language_code=language, illustration_style=illustration_style, special_requests=request)

    async def create(client: StoryloomClient) -> int:
        task = await client.create_story(
            requirements, conversation=full_name(conversation, "users/me/conversations") if conversation else "",
            text=text_file.read_text() if text_file else "", scene_count=scenes, skip_illustrations=no_pictures,
            skip_narration=no_narration, regenerate=regenerate)
        err.print(f"task: {task.name}\nstory: {task.target}", markup=False)
        if detach:
            out.print(task.name, markup=False)
            return 0
        try:
            final = await follow(client, task.name, "writing",
                                 on_scene=None if json else lambda scene: print_scene(scene, text=True, ready=True))
        except (KeyboardInterrupt, asyncio.CancelledError):
            err.print(f"stopped watching; the story goes on being written. Watch it again with: "
                      f"storyloom-cli tasks watch {task.name}", markup=False)
            raise
        if code := task_failed(final):
            return code
        story = client.story_of(final) or await client.stories.get_story(v1.GetStoryRequest(name=task.target))
        print_story(story, json=json, text=False)
        return 0

    run(ctx, create)


@story_app.command("video")
def story_video(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="users/me/stories/ID or ID of a finished story.")],
    resolution: Annotated[str, typer.Option(help="360p, 720p or 1080p.")] = "720p",
    captions: Annotated[bool, typer.Option("--captions", help="WebVTT captions of the narration.")] = False,
    burn_in: Annotated[bool, typer.Option("--burn-in", help="Draw the captions into the frames too.")] = False,
    scenes_only: Annotated[bool, typer.Option("--scenes-only", help="One clip per scene, no joined video.")] = False,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the files.")] = Path("."),
    detach: Annotated[bool, typer.Option("--detach", help="Print the task and return at once.")] = False,
) -> None:
    """Film a finished story as an MP4 (H.264 + AAC) with a live progress bar, then download it (and its poster and
    captions, or each scene's clip) into --output, verifying each SHA-256."""
    sizes = {"360p": v1.VideoResolution._360P, "720p": v1.VideoResolution._720P,
             "1080p": v1.VideoResolution._1080P}
    if resolution not in sizes:
        raise typer.BadParameter("must be 360p, 720p or 1080p", param_hint="--resolution")
    story_name = full_name(name, "users/me/stories")

    async def film(client: StoryloomClient) -> int:
        task = await client.create_story_video(story_name, resolution=sizes[resolution], scenes_only=scenes_only,
                                               captions=captions or burn_in, burn_in_captions=burn_in)
        err.print(f"task: {task.name}\nvideo: {task.target}", markup=False)
        if detach:
            out.print(task.name, markup=False)
            return 0
        try:
            final = await follow(client, task.name, "filming")
        except (KeyboardInterrupt, asyncio.CancelledError):
            err.print(f"stopped watching; the video goes on being rendered. Watch it again with: "
                      f"storyloom-cli tasks watch {task.name}", markup=False)
            raise
        if code := task_failed(final):
            return code
        video = client.story_video_of(final) or await client.stories.get_story_video(
            v1.GetStoryVideoRequest(name=task.target))
        output.mkdir(parents=True, exist_ok=True)
        files = [(c.clip, f"scene-{c.scene_index + 1}.mp4") for c in video.clips] if scenes_only else [
            (video.video, "video.mp4"), (video.poster, "poster.png"), (video.captions, "captions.vtt")]
        for media_name, file_name in files:
            if media_name:
                path = output / f"{video.name.rsplit('/', 1)[-1]}-{file_name}"
                info = await client.download_media_to(media_name, path)
                err.print(f"wrote {info.size_bytes} bytes ({info.content_type}); sha256 verified", markup=False)
                out.print(str(path), markup=False)
        return 0

    run(ctx, film)


@story_app.command("get")
def story_get(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="users/me/stories/ID or ID.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a story with its scenes' text and media."""
    async def get(client: StoryloomClient) -> None:
        story = await client.stories.get_story(v1.GetStoryRequest(name=full_name(name, "users/me/stories")))
        print_story(story, json=json, text=True)

    run(ctx, get)


@story_app.command("list")
def story_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List your stories, newest first."""
    async def list_stories(client: StoryloomClient) -> None:
        page = await client.stories.list_stories(v1.ListStoriesRequest(parent="users/me", page_size=limit))
        if json:
            out.print(page.to_json(indent=2), markup=False)
            return
        print_rows(("name", "title", "state", "scenes", "created"), [
            (story.name, story.title, state_name(story.state), str(story.planned_scene_count),
             story.create_time.strftime("%Y-%m-%d %H:%M") if story.create_time else "")
            for story in page.stories])

    run(ctx, list_stories)


@story_app.command("delete")
def story_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="users/me/stories/ID or ID.")]) -> None:
    """Delete a story and the media no other story uses."""
    async def delete(client: StoryloomClient) -> None:
        await client.stories.delete_story(v1.DeleteStoryRequest(name=full_name(name, "users/me/stories")))
        err.print(f"deleted {full_name(name, 'users/me/stories')}", markup=False)

    run(ctx, delete)


# --- tasks -------------------------------------------------------------------------------------------------------

@tasks_app.command("list")
def tasks_list(
    ctx: typer.Context,
    state: Annotated[list[str] | None, typer.Option(
        help=f"Only these states (repeatable): {choices(v1.TaskState)}.", show_default=False)] = None,
    kind: Annotated[str, typer.Option(help="Only this kind, for example story.create.")] = "",
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List your tasks, newest first."""
    states = [choice(v1.TaskState, s, "--state") for s in state or ()]

    async def list_tasks(client: StoryloomClient) -> None:
        page = await client.tasks.list_tasks(v1.ListTasksRequest(page_size=limit, kind=kind,
                                                                 states=[s for s in states if s is not None]))
        if json:
            out.print(page.to_json(indent=2), markup=False)
            return
        print_rows(("name", "kind", "state", "stage", "percent", "updated"), [
            (task.name, task.kind, state_name(task.state), task.stage, f"{task.percent}%",
             task.update_time.strftime("%Y-%m-%d %H:%M:%S") if task.update_time else "")
            for task in page.tasks])

    run(ctx, list_tasks)


@tasks_app.command("watch")
def tasks_watch(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="tasks/ID or ID.")],
    after: Annotated[int, typer.Option(help="Only events after this sequence.")] = 0,
) -> None:
    """Follow a task to its end with a live progress bar; re-attaches after a dropped connection."""
    async def watch(client: StoryloomClient) -> int:
        final = await follow(client, full_name(name, "tasks"), "working", after_sequence=after)
        out.print(f"{final.task} {state_name(final.state)}", markup=False)
        return task_failed(final)

    run(ctx, watch)


@tasks_app.command("cancel")
def tasks_cancel(ctx: typer.Context, name: Annotated[str, typer.Argument(help="tasks/ID or ID.")]) -> None:
    """Cancel a task; what it finished is kept."""
    async def cancel(client: StoryloomClient) -> None:
        task = await client.tasks.cancel_task(v1.CancelTaskRequest(name=full_name(name, "tasks")))
        out.print(f"{task.name} {state_name(task.state)}", markup=False)

    run(ctx, cancel)


# --- media -------------------------------------------------------------------------------------------------------

EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "audio/wav": ".wav",
              "audio/x-wav": ".wav", "audio/ogg": ".ogg", "audio/webm": ".webm", "audio/mpeg": ".mp3",
              "video/mp4": ".mp4", "text/vtt": ".vtt"}


@media_app.command("download")
def media_download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="media/ID or ID.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: ID plus the type's extension.",
                                                show_default=False)] = None,
) -> None:
    """Download a picture or a recording and verify its SHA-256."""
    media_name = full_name(name, "media")

    async def download(client: StoryloomClient) -> None:
        path = output
        if path is None:
            info = await client.media.get_media_info(v1.GetMediaInfoRequest(name=media_name))
            path = Path(media_name.rsplit("/", 1)[-1] + EXTENSIONS.get(info.content_type, ""))
        info = await client.download_media_to(media_name, path)
        err.print(f"wrote {info.size_bytes} bytes ({info.content_type}) to {path}; sha256 {info.sha256} verified",
                  markup=False)
        out.print(str(path), markup=False)

    run(ctx, download)


@media_app.command("info")
def media_info(ctx: typer.Context, name: Annotated[str, typer.Argument(help="media/ID or ID.")]) -> None:
    """Show a media item's type, size, SHA-256, dimensions or duration, and renditions (JSON)."""
    async def info(client: StoryloomClient) -> None:
        media = await client.media.get_media_info(v1.GetMediaInfoRequest(name=full_name(name, "media")))
        out.print(media.to_json(indent=2), markup=False)

    run(ctx, info)


# --- voice -------------------------------------------------------------------------------------------------------

@app.command()
def say(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to say.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the audio (WAV).")] = Path("say.wav"),
    voice: Annotated[str, typer.Option(help="Voice name; the server's default when empty.")] = "",
    rate: Annotated[float, typer.Option(help="Speaking rate, 0.5 to 2.0 (0: normal).")] = 0.0,
) -> None:
    """Speak a text into an audio file (VoiceService.Synthesize)."""
    async def synthesize(client: StoryloomClient) -> None:
        size, content_type = 0, ""
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("wb") as audio:
                async for chunk in client.voice.synthesize(v1.SynthesizeRequest(
                        parent="users/me", text=text, voice=voice, speaking_rate=rate)):
                    audio.write(chunk.data)
                    size, content_type = size + len(chunk.data), content_type or chunk.content_type
            fix_wav_sizes(partial)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
        err.print(f"wrote {size} bytes ({content_type or 'audio'}) to {output}", markup=False)

    run(ctx, synthesize)


def fix_wav_sizes(path: Path) -> None:
    """A streamed WAV says "length unknown" in its header (the server cannot know it before the last sentence);
    once the whole file is on disk, write the real RIFF and data sizes so every reader gets the true length."""
    with path.open("r+b") as wav:
        header = wav.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        size = wav.seek(0, os.SEEK_END)
        offset = 12
        while offset + 8 <= size:
            wav.seek(offset)
            chunk_id, chunk_size = wav.read(4), int.from_bytes(wav.read(4), "little")
            if chunk_id == b"data":
                wav.seek(offset + 4)
                wav.write((size - offset - 8).to_bytes(4, "little"))
                wav.seek(4)
                wav.write((size - 8).to_bytes(4, "little"))
                return
            offset += 8 + chunk_size + (chunk_size & 1)


# A recording may be up to 4 MiB: minutes of speech (many more in Ogg/Opus), recognized at about a seventh of real
# time, after the recognizer loads if this is the server's first. The 10 s of other calls cut it short.
TRANSCRIBE_TIMEOUT = 300.0


@app.command()
def transcribe(
    ctx: typer.Context,
    audio: Annotated[Path, typer.Argument(help="A recording: WAV, Ogg/Opus or WebM/Opus, at most 4 MiB.",
                                          exists=True, dir_okay=False)],
    language: Annotated[str, typer.Option(help="Expected language (BCP-47); detected when empty.")] = "",
    json: Annotated[bool, typer.Option("--json", help="Print the whole response as JSON.")] = False,
) -> None:
    """Transcribe a recording (VoiceService.Transcribe)."""
    async def run_transcribe(client: StoryloomClient) -> None:
        response = await client.voice.transcribe(v1.TranscribeRequest(
            parent="users/me", audio_content=audio.read_bytes(), language_code=language))
        if json:
            out.print(response.to_json(indent=2), markup=False)
            return
        out.print(response.text, markup=False)
        duration = response.audio_duration.total_seconds() if response.audio_duration else 0.0
        err.print(f"language: {response.language_code} ({response.language_confidence:.2f}), "
                  f"{duration:.1f} s of audio", markup=False)

    run(ctx, run_transcribe, timeout=TRANSCRIBE_TIMEOUT)


# The commands for a story's files (export, bundle, illustrate) live in cli_files.py, which adds them to `app`.
from . import cli_files  # noqa: E402, F401  (registers its commands after these, as the help lists them)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

