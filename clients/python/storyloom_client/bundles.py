"""Story bundles on disk: the ZIP GetStoryBundle streams, checked file by file against its manifest.

The archive's `manifest.json` lists every other file with its size and SHA-256 (the contract is in the server's
README, "Bundles"). `verify_bundle` reads each listed file from the archive and compares; an app that unpacks the
archive can trust what it keeps.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

from .errors import ChecksumMismatch

MANIFEST = "manifest.json"
FORMAT = "storyloom.bundle/1"


@dataclass(frozen=True)
class BundleFile:
    path: str
    content_type: str
    size_bytes: int
    sha256: str
    purpose: str
    media: str = ""


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: where it is, its manifest as parsed JSON, and its files."""

    path: str
    manifest: dict[str, Any]
    files: tuple[BundleFile, ...]
    etag: str = ""

    @property
    def scenes(self) -> list[dict[str, Any]]:
        """The scenes in story order: index, title, text, mood, and the archive paths of their media by purpose
        (`picture`: full/medium/thumbnail, `narration`: full/preview)."""
        return list(self.manifest["scenes"])


def verify_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Opens a bundle and checks every file the manifest lists: present, of its size and SHA-256, and the paths
    scenes name are among them. Raises ChecksumMismatch for a file that differs, ValueError for a malformed
    archive or manifest."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{os.fspath(path)} is not a ZIP archive") from exc
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except KeyError:
            raise ValueError(f"{os.fspath(path)} has no {MANIFEST}") from None
        if manifest.get("format") != FORMAT:
            raise ValueError(f"unknown bundle format {manifest.get('format')!r}")
        files = tuple(BundleFile(path=f["path"], content_type=f["content_type"], size_bytes=int(f["size_bytes"]),
                                 sha256=f["sha256"], purpose=f.get("purpose", ""), media=f.get("media", ""))
                      for f in manifest["files"])
        names = set(archive.namelist())
        for entry in files:
            if entry.path not in names:
                raise ChecksumMismatch(entry.path, entry.sha256, "missing from the archive")
            digest, size = hashlib.sha256(), 0
            with archive.open(entry.path) as member:
                while block := member.read(64 * 1024):
                    digest.update(block)
                    size += len(block)
            if size != entry.size_bytes or digest.hexdigest() != entry.sha256:
                raise ChecksumMismatch(entry.path, entry.sha256, f"{digest.hexdigest()} ({size} bytes)")
    listed = {f.path for f in files}
    for scene in manifest["scenes"]:
        for kind in ("picture", "narration"):
            for purpose, where in scene.get(kind, {}).items():
                if where not in listed:
                    raise ValueError(f"scene {scene['index']} names {kind} {purpose} {where}, which is not listed")
    return Bundle(path=os.fspath(path), manifest=manifest, files=files)
