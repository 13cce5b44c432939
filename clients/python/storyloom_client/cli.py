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
import datetime
import enum
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn
from rich.table import Table

from . import v1
from .client import DEFAULT_ADDRESS, DEFAULT_TIMEOUT, TERMINAL_TASK_STATES, StoryloomClient
from .errors import ChecksumMismatch, Status, StoryloomError

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_CHECKSUM, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
DEFAULT_KEY_FILE = "data/dev-api-key"

app = typer.Typer(name="storyloom-cli", no_args_is_help=True, add_completion=False,
                  help="Storyloom from a terminal: chat, stories with live progress, tasks, media and voice.")
story_app = typer.Typer(no_args_is_help=True, help="Create, read, list, export and delete stories.")
tasks_app = typer.Typer(no_args_is_help=True, help="List, watch and cancel long-running tasks.")
media_app = typer.Typer(no_args_is_help=True, help="Download pictures and audio, or show their details.")
app.add_typer(story_app, name="story")
app.add_typer(tasks_app, name="tasks")
app.add_typer(media_app, name="media")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

E = TypeVar("E", bound=enum.Enum)


# --- settings and running ------------------------------------------------------------------------------------------

@dataclass
class Settings:
    address: str
    api_key: str | None
    key_file: str
    timeout: float
    token: str | None = None
    ca_file: str | None = None

    def key(self) -> str:
        if self.api_key:
            return self.api_key
        path = Path(self.key_file)
        if path.is_file() and (key := path.read_text().strip()):
            return key
        err.print(f"error: no API key or token. Set STORYLOOM_API_KEY or STORYLOOM_TOKEN, pass --api-key or --token, "
                  f"or point --key-file at a file holding a key ({self.key_file} does not exist; `make run` writes "
                  "it).", markup=False)
        raise typer.Exit(EXIT_USAGE)


@app.callback()
def settings(
    ctx: typer.Context,
    addr: Annotated[str, typer.Option("--addr", envvar="STORYLOOM_ADDR",
                                      help="Server address, host:port (https://host:port for TLS).")] = (
        DEFAULT_ADDRESS),
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="STORYLOOM_API_KEY",
                                                help="API key (sent as x-api-key).", show_default=False)] = None,
    key_file: Annotated[str, typer.Option("--key-file", envvar="STORYLOOM_API_KEY_FILE",
                                          help="File holding the API key, read when no key is given.")] = (
        DEFAULT_KEY_FILE),
    timeout: Annotated[float, typer.Option("--timeout", help="Deadline of single calls, seconds.")] = DEFAULT_TIMEOUT,
    token: Annotated[str | None, typer.Option("--token", envvar="STORYLOOM_TOKEN", show_default=False,
                                              help="Sign-in token (an identity provider's ID token, a JWT), sent "
                                                   "as authorization: Bearer instead of an API key.")] = None,
    ca_file: Annotated[str | None, typer.Option("--ca-file", envvar="STORYLOOM_CA_FILE", show_default=False,
                                                help="CA certificate (PEM) to verify a TLS server by; implies "
                                                     "TLS.")] = None,
) -> None:
    ctx.obj = Settings(addr, api_key, key_file, timeout, token, ca_file)



def run(ctx: typer.Context, work: Callable[[StoryloomClient], Awaitable[int | None]]) -> None:
    """Runs `work` with a connected client; turns errors into a message on stderr and an exit code."""
    settings: Settings = ctx.obj
    key = None if settings.token else settings.key()

    async def main() -> int | None:
        async with StoryloomClient(settings.address, key, token=settings.token, ca_file=settings.ca_file,
                                   timeout=settings.timeout) as client:
            return await work(client)

    try:
        code = asyncio.run(main())
    except StoryloomError as error:
        fail(error, settings, ctx.command_path)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if code:
        raise typer.Exit(code)


def fail(error: StoryloomError, settings: Settings, command: str = "") -> None:
    """Prints a failed call as a person can act on it, then exits with its code."""
    err.print(f"error: {error.describe()}", markup=False)
    hint, code = "", EXIT_FAILED
    if isinstance(error, ChecksumMismatch):
        code = EXIT_CHECKSUM
    elif error.code is Status.UNAVAILABLE:
        hint, code = f"Is the server running at {settings.address}? (`make run` starts one.)", EXIT_UNREACHABLE
    elif error.code is Status.UNAUTHENTICATED:
        hint = ("Check the token (STORYLOOM_TOKEN, --token): sign in again for a fresh one." if settings.token
                else "Check the API key: STORYLOOM_API_KEY, --api-key or --key-file.")
    elif error.code is Status.UNIMPLEMENTED:
        hint = f"This server does not implement what `{command}` needs yet; try a newer server."
    if hint:
        err.print(hint, markup=False)
    raise typer.Exit(code)


def choice(kind: type[E], value: str | None, flag: str) -> E | None:
    """An enum member from a friendly spelling: `early-readers` for AudienceAgeGroup.EARLY_READERS."""
    if value is None:
        return None
    names = {m.name.lower().replace("_", "-"): m for m in kind if m.value != 0}
    key = value.lower().replace("_", "-")
    if key not in names:
        raise typer.BadParameter(f"{value!r} is not one of: {', '.join(names)}", param_hint=flag)
    return names[key]


def choices(kind: type[enum.Enum]) -> str:
    return ", ".join(m.name.lower().replace("_", "-") for m in kind if m.value != 0)


def full_name(value: str, collection: str) -> str:
    """Accepts a full resource name or just its last part: `ID` -> `users/me/stories/ID`."""
    return value if "/" in value else f"{collection}/{value}"


def eta(remaining: datetime.timedelta | None) -> str:
    if remaining is None:
        return "-:--"
    seconds = max(0, round(remaining.total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def state_name(value: enum.Enum) -> str:
    return value.name.lower()


def print_rows(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table on a terminal (names never cut: they are meant to be copied); tab-separated lines otherwise."""
    if not out.is_terminal:
        sys.stdout.write("".join("\t".join(row) + "\n" for row in (headers, *rows)))
        sys.stdout.flush()
        return
    table = Table(*headers)
    table.columns[0].no_wrap = True
    for row in rows:
        table.add_row(*row)
    out.print(table)


# --- progress ----------------------------------------------------------------------------------------------------

class TaskProgress:
    """Shows a task's events: a live rich progress bar (stage, percent, ETA, message) on a terminal, one line
    per event otherwise. A re-attach after a dropped connection is announced and the bar carries on."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[stage]:<13}"), BarColumn(), TaskProgressColumn(),
            TextColumn("ETA {task.fields[eta]}"), TextColumn("{task.description}"), console=console)
        self.bar = self.progress.add_task(title, total=100, stage="", eta=eta(None))

    def __enter__(self) -> Self:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.live:
            self.progress.stop()

    def update(self, event: v1.TaskEvent) -> None:
        stage = event.stage or state_name(event.state)
        remaining = None if event.state in TERMINAL_TASK_STATES else event.estimated_remaining
        if self.live:
            self.progress.update(self.bar, completed=event.percent, stage=stage, eta=eta(remaining),
                                 description=event.message)
        else:
            self.console.print(f"[{event.percent:>3}%] {stage:<13} ETA {eta(remaining)}  {event.message}",
                               markup=False)

    def reconnecting(self, error: StoryloomError, last_sequence: int) -> None:
        self.console.print(f"connection lost ({error.message}); re-attaching after event {last_sequence}",
                           markup=False, style="yellow")


async def follow(client: StoryloomClient, name: str, title: str, after_sequence: int = 0,
                 on_scene: Callable[[v1.Scene], None] | None = None) -> v1.TaskEvent:
    """Watches a task to its end with a progress display; returns the terminal event. `on_scene` hears of each
    scene of a story as soon as it is finished."""
    final: v1.TaskEvent | None = None
    with TaskProgress(err, title) as view:
        async for event in client.watch_task(name, after_sequence=after_sequence, on_reconnect=view.reconnecting):
            view.update(event)
            if on_scene is not None and (scene := client.scene_of(event)) is not None:
                on_scene(scene)
            final = event
    assert final is not None
    return final


def task_failed(event: v1.TaskEvent) -> int:
    """Reports a task that did not succeed; the exit code."""
    if event.state is v1.TaskState.SUCCEEDED:
        return 0
    message = StoryloomError.from_rpc_status(event.error).describe() if event.error else "no reason given"
    err.print(f"error: the task ended {state_name(event.state)}: {message}", markup=False)
    return EXIT_FAILED


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


def print_story(story: v1.Story, *, json: bool, text: bool) -> None:
    if json:
        out.print(story.to_json(indent=2), markup=False)
        return
    out.print(f"{story.name}\n{story.title}  ({state_name(story.state)}, {len(story.scenes)} of "
              f"{story.planned_scene_count} scenes)", markup=False)
    if text and story.premise:
        out.print(f"\n{story.premise}", markup=False)
    for scene in story.scenes:
        print_scene(scene, text=text)


def print_scene(scene: v1.Scene, *, text: bool, ready: bool = False) -> None:
    """A scene's line (title, picture and narration), and its text if asked; `ready`: announced as it lands."""
    media = [f"picture {scene.picture.name}" if scene.picture else f"picture {state_name(scene.picture_state)}",
             f"narration {scene.narration.name}" if scene.narration else
             f"narration {state_name(scene.narration_state)}"]
    out.print(f"{'scene ready: ' if ready else '  '}{scene.index + 1}. {scene.title}  [{', '.join(media)}]",
              markup=False)
    if text:
        out.print(f"\n{scene.text}\n", markup=False)


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

    run(ctx, run_transcribe)


# The commands for a story's files (export, bundle, illustrate) live in cli_files.py, which adds them to `app`.
from . import cli_files  # noqa: F401  (registers its commands)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

