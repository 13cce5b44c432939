"""The offline storyteller: the embedded default text engine (rule-based chat, story grammar, no model).

`OfflineStoryteller` (chat.py) is the one public name. The chat's modules share their helpers under names with a
leading underscore: they belong to this package, not to its users.
"""

from storyloom.engines.text.offline.chat import OfflineStoryteller

__all__ = ["OfflineStoryteller"]
