"""The browser sandbox: the real bot wired to an emulated Slack workspace (``epbot sandbox``)."""

from epbot.sandbox.client import COMMANDS
from epbot.sandbox.server import Sandbox, sandbox_settings, serve

__all__ = ["COMMANDS", "Sandbox", "sandbox_settings", "serve"]
