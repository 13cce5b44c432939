"""storyloom-cli (a subprocess) for a story's files against the real server: `illustrate FILE` with its bundle,
`story bundle` (verified) and `story export --format epub|pdf`."""

from __future__ import annotations

import zipfile

from storyloom_client import StoryloomClient, v1, verify_bundle
from tests.support.clients import run_cli

TALE = """# The Kite

Tom the toad found a red kite in the reeds. He ran and ran until it flew high over the pond.

# The Wind

The wind carried it far away and Tom laughed as the ducks chased its long tail across the water.
"""


async def test_illustrate_bundle_and_book_exports_from_the_command_line(storyloom_server, caller, tmp_path):
    address, key = storyloom_server.address, caller.key
    source = tmp_path / "kite.md"
    source.write_text(TALE)
    first = tmp_path / "kite.zip"

    illustrated = await run_cli(address, key, "illustrate", str(source), "--style", "crayon", "--scenes", "2",
                                "--bundle", str(first))

    assert illustrated.code == 0, illustrated.stderr
    assert "illustrating" not in illustrated.stdout and illustrated.stdout.strip() == str(first)
    assert "every sha256 verified" in illustrated.stderr
    bundle = verify_bundle(first)
    assert [s["title"] for s in bundle.scenes] == ["The Kite", "The Wind"]
    story = bundle.manifest["story"]["name"]

    again = await run_cli(address, key, "story", "bundle", story, "-o", str(tmp_path / "again.zip"))
    assert again.code == 0, again.stderr
    assert verify_bundle(tmp_path / "again.zip").manifest == bundle.manifest

    for fmt, magic in (("epub", b"PK\x03\x04"), ("pdf", b"%PDF-")):
        target = tmp_path / f"kite.{fmt}"
        exported = await run_cli(address, key, "story", "export", story, "--format", fmt, "-o", str(target))
        assert exported.code == 0, exported.stderr
        assert target.read_bytes().startswith(magic)
    with zipfile.ZipFile(tmp_path / "kite.epub") as book:
        assert book.read("mimetype") == b"application/epub+zip"

    refused = await run_cli(address, key, "illustrate", str(tmp_path / "kite.zip"))
    assert refused.code == 2 and "not a document to illustrate" in refused.stderr


async def test_a_bundle_of_someone_elses_story_is_not_found(storyloom_server, caller, tmp_path):
    other = await storyloom_server.new_caller("other")
    async with StoryloomClient(storyloom_server.address, caller.key) as client:
        task = await client.stories.illustrate_text(
            v1.IllustrateTextRequest(parent="users/me", text=TALE, max_scenes=1))
        await client.wait_task(task.name)
    result = await run_cli(storyloom_server.address, other.key, "story", "bundle", task.target,
                           "-o", str(tmp_path / "x.zip"))
    assert result.code == 1 and "NOT_FOUND" in result.stderr
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()
