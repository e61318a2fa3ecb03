"""The ``zego-token`` command line: generate, inspect and explain tokens; ``serve`` runs the server.

Exit status: 0 success (or a valid token), 1 invalid token, 2 usage error.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
