"""The offline storyteller: the embedded default text engine (rule-based chat, story grammar, no model)."""

from storyloom.engines.text.offline.chat import OfflineStoryteller

__all__ = ["OfflineStoryteller"]
