"""`storyloom-cli story video` as a person would run it: a live progress bar while a finished story is filmed, then
the video, its poster and its captions downloaded with verified checksums."""

from __future__ import annotations

import re
from pathlib import Path

from storyloom_client import v1
from tests.support.clients import run_cli
from tests.support.video import parse_webvtt, probe

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


async def test_story_video_shows_progress_and_downloads_the_video_poster_and_captions(storyloom_server, caller,
                                                                                      client, tmp_path: Path):
    task = await client.create_story(v1.StoryRequirements(setting="a windy hill"), scene_count=1)
    final = await client.wait_task(task.name)
    assert final.state is v1.TaskState.SUCCEEDED

    result = await run_cli(storyloom_server.address, caller.key, "story", "video", task.target, "--resolution",
                           "360p", "--captions", "--output", str(tmp_path), env={"TTY_COMPATIBLE": "1"})

    assert result.code == 0, result.stderr
    frames = [f for f in re.split(r"[\r\n]", ANSI.sub("", result.stderr)) if "ETA" in f]
    assert any("━" in f for f in frames) and re.search(r"100%\s+ETA", frames[-1]) and "done" in frames[-1]
    assert any("scenes" in f for f in frames)  # the stage, as the server reported it
    paths = [Path(line) for line in result.stdout.split()]
    assert [p.name.split("-", 1)[1] for p in paths] == ["video.mp4", "poster.png", "captions.vtt"]
    assert all(p.parent == tmp_path for p in paths)
    found = probe(paths[0].read_bytes())
    assert (found.video_codec, found.audio_codec, found.width, found.height) == ("h264", "aac", 640, 360)
    assert paths[1].read_bytes().startswith(b"\x89PNG")
    assert parse_webvtt(paths[2].read_bytes())
    assert result.stderr.count("sha256 verified") == 3
