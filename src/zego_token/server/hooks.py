"""The documented import path of the hook API (``from zego_token.server.hooks import Allow``);
the hook step itself is ``zego_token.pipeline.hooks``."""

from ..pipeline.hooks import Allow, Deny, HookContext, HookFunction

__all__ = ["Allow", "Deny", "HookContext", "HookFunction"]
