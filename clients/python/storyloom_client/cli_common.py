"""What every `storyloom-cli` command shares: the typer apps and their settings, running a command with a connected
client, the exit codes, the consoles, and how tasks, stories and tables are shown. The commands live in cli.py and
cli_files.py, which both build on this module."""

from __future__ import annotations

import asyncio
import datetime
import enum
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
    timeout: float | None  # None: the command's own default
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
    timeout: Annotated[float | None, typer.Option(
        "--timeout", show_default=False,
        help=f"Deadline of single calls, seconds (default {DEFAULT_TIMEOUT:g}; transcribe: its own, longer).")] = None,
    token: Annotated[str | None, typer.Option("--token", envvar="STORYLOOM_TOKEN", show_default=False,
                                              help="Sign-in token (an identity provider's ID token, a JWT), sent "
                                                   "as authorization: Bearer instead of an API key.")] = None,
    ca_file: Annotated[str | None, typer.Option("--ca-file", envvar="STORYLOOM_CA_FILE", show_default=False,
                                                help="CA certificate (PEM) to verify a TLS server by; implies "
                                                     "TLS.")] = None,
) -> None:
    ctx.obj = Settings(addr, api_key, key_file, timeout, token, ca_file)



def run(ctx: typer.Context, work: Callable[[StoryloomClient], Awaitable[int | None]], *,
        timeout: float = DEFAULT_TIMEOUT) -> None:
    """Runs `work` with a connected client; turns errors into a message on stderr and an exit code. `timeout`: the
    deadline of single calls unless --timeout says otherwise."""
    settings: Settings = ctx.obj
    key = None if settings.token else settings.key()

    async def main() -> int | None:
        async with StoryloomClient(settings.address, key, token=settings.token, ca_file=settings.ca_file,
                                   timeout=timeout if settings.timeout is None else settings.timeout) as client:
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
