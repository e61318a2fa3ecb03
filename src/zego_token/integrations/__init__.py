"""Serve ``/token`` and ``/kit-token`` from your own web app, on the standalone server's rules.

``authorize(request)`` maps your signed-in user to an ``Identity`` (or returns None: 401); the
rest (parameters, TTL bounds, user-ID binding, grants, policy, hook, error JSON,
``Cache-Control: no-store``) is the standalone server's pipeline, unchanged. One adapter per
framework, each in its own module with its own extra:

- ``zego_token.integrations.fastapi.token_router`` (``pip install 'zego-token[fastapi]'``)
- ``zego_token.integrations.flask.token_blueprint`` (``pip install 'zego-token[flask]'``)
- ``zego_token.integrations.django.token_urlpatterns`` (``pip install 'zego-token[django]'``)

See docs/embed.md.
"""

from __future__ import annotations

from ..pipeline.contracts import Grants, Identity
from ..pipeline.hooks import Allow, Deny, HookContext
from ..pipeline.policy import PolicySettings
from ._endpoint import TokenEndpoint

__all__ = ["Allow", "Deny", "Grants", "HookContext", "Identity", "PolicySettings", "TokenEndpoint"]
