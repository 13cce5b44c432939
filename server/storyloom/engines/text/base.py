"""Moved to `storyloom.domain.ports.text`; these names stay here only until the branches that rewrite the text
engines have merged (temporary: remove this module then, importing from the domain instead)."""

from storyloom.domain.ports.text import (
    ChatEvent,
    ChatRequest,
    ChatTurn,
    EngineRateLimited,
    EngineRefused,
    EngineUnavailable,
    FinishReason,
    ReplyEnd,
    TextDelta,
    TextEngine,
)

__all__ = ["ChatEvent", "ChatRequest", "ChatTurn", "EngineRateLimited", "EngineRefused", "EngineUnavailable",
           "FinishReason", "ReplyEnd", "TextDelta", "TextEngine"]
