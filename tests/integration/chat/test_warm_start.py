"""A server that has started has done what its first chat reply would otherwise pay for."""

from __future__ import annotations

import re

import pytest

from storyloom.domain.ports.text import ChatRequest, ChatTurn
from storyloom.engines.text.offline import OfflineStoryteller, dialogue
from tests.conftest import serving, settings_for_tests


async def test_the_offline_storyteller_is_warmed_up_on_start(tmp_path, monkeypatch: pytest.MonkeyPatch):
    # As in a new process: the patterns Python compiled so far are forgotten, and so are the readings the storyteller
    # keeps (an earlier test's server may have read its warm-up message, which would then compile nothing).
    re.purge()
    dialogue._PREFIXES.clear()
    async with serving(settings_for_tests(tmp_path / "data", text_engine="offline")) as server:
        engine = server.app.text_engine
        assert isinstance(engine, OfflineStoryteller)
        compiled: list[object] = []
        compile_pattern = re._compiler.compile  # type: ignore[attr-defined]

        def counting(*args: object, **kwargs: object) -> object:
            compiled.append(args[0])
            return compile_pattern(*args, **kwargs)

        monkeypatch.setattr(re._compiler, "compile", counting)  # type: ignore[attr-defined]
        engine.reply_text(ChatRequest("", [ChatTurn("user", "Hi! I want a story about a brave fox named Luna")]))
    # Unwarmed, 148; warmed (with a message of its own), those that name Luna and a few more.
    assert len(compiled) <= 25, compiled
