"""The `storyloom.v1` messages, enums and raw async stubs, as betterproto2 generated them from proto/storyloom/v1
(`make generate`): `from storyloom_client import v1; v1.StoryRequirements(setting="the moon")`."""

from .generated.storyloom.v1 import *  # noqa: F403
from .generated.storyloom.v1 import __all__  # noqa: F401
