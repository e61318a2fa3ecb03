"""Who is asking: the chain that tries the configured authentication modes in order.

The chain asks each configured mode in order; the first that recognises the credential
decides. A refusal is a 401 ``HttpError`` whose code says why (it also labels
``zego_auth_failures_total``); a message never repeats the credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..pipeline.contracts import Authenticator, Degradable, Identity, RequestContext
from ..pipeline.errors import HttpError
from .keys import bearer_token

# How many accepted credentials the chain remembers, and for how long (see AuthChain.recent).
RECENT_CREDENTIALS = 1024
RECENT_SECONDS = 60.0
# An Authorization header longer than this is checked every time and never remembered: an API
# key is a few dozen characters, and a remembered header must not pin a padded megabyte.
MAX_REMEMBERED_HEADER = 1024


class AuthChain:
    """The configured modes, tried in order. ``on_failure(reason)`` counts each 401."""

    def __init__(
        self,
        authenticators: Sequence[Authenticator],
        on_failure: Callable[[str], None] = lambda reason: None,
    ) -> None:
        if not authenticators:
            raise ValueError("at least one authenticator is needed")
        self.authenticators = tuple(authenticators)
        self._on_failure = on_failure
        self._single = self.authenticators[0] if len(self.authenticators) == 1 else None
        # Credential -> (identity, expiry on the monotonic clock), for the modes whose answer
        # cannot change while the server runs (API keys). Keyed by the credential, not the
        # header: "Bearer  key" padded with spaces is the same key, and one entry. Only
        # accepted credentials are kept, so a caller cannot fill it with guesses; a guess is
        # never compared with a remembered credential unless their keyed (SipHash) string
        # hashes are equal, so the dict lookup's timing says nothing about remembered keys,
        # and a miss takes the full constant-time path.
        self._recent: dict[str, tuple[Identity, float]] = {}

    def recent(self, authorization: str | None) -> Identity | None:
        """The identity this header's credential was given less than RECENT_SECONDS ago by a
        mode whose answers do not change (API keys), without hashing it again; None when it
        must go through ``authenticate``. A JWT is never remembered: its expiry and its
        issuer's keys are checked on every request."""
        if authorization is None or len(authorization) > MAX_REMEMBERED_HEADER:
            return None
        # The usual spelling is read by a slice; any other goes through the full parser. A
        # slice with stray spaces finds nothing and takes the full path: slower, never wrong.
        if authorization.startswith("Bearer "):
            credential = authorization[7:]
        else:
            parsed = bearer_token(authorization)
            if parsed is None:
                return None
            credential = parsed
        entry = self._recent.get(credential)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._recent.pop(credential, None)
            return None
        return entry[0]

    def _remember(self, authorization: str, identity: Identity) -> None:
        if len(authorization) > MAX_REMEMBERED_HEADER:
            return
        credential = bearer_token(authorization)
        if credential is None:
            return
        recent = self._recent
        now = time.monotonic()
        if len(recent) >= RECENT_CREDENTIALS:
            # Expired entries go first; a deployment has a handful of keys, so a table still
            # full of live ones is a bound to keep, not a cache to manage (no LRU).
            self._recent = recent = {k: v for k, v in recent.items() if v[1] > now}
            if len(recent) >= RECENT_CREDENTIALS:
                recent.clear()
        recent[credential] = (identity, now + RECENT_SECONDS)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.authenticators)

    async def authenticate(self, authorization: str | None, context: RequestContext) -> Identity:
        try:
            if self._single is not None:
                decided_by = self._single
                identity = await decided_by.authenticate(authorization, context)
            else:
                identity = None
                refused: HttpError | None = None
                for decided_by in self.authenticators:
                    try:
                        identity = await decided_by.authenticate(authorization, context)
                    except HttpError as exc:
                        if exc.status != 401:
                            raise
                        # A mode that does not know the credential leaves it to the modes after
                        # it; its refusal stands only if none of them knows it either.
                        refused = refused or exc
                        continue
                    if identity is not None:
                        break
                if identity is None and refused is not None:
                    raise refused
        except HttpError as exc:
            if exc.status == 401:
                self._on_failure(exc.code)
            raise
        if identity is None:
            if authorization is None:
                code = "missing_credentials"
                message = (
                    "this server needs credentials: send Authorization: Bearer <API key or "
                    f"token> (accepted: {', '.join(self.modes)})"
                )
            else:
                code = "unsupported_credentials"
                message = (
                    "the Authorization header is not a credential this server accepts: send "
                    f"Authorization: Bearer <API key or token> (accepted: {', '.join(self.modes)})"
                )
            self._on_failure(code)
            raise HttpError(401, code, message, headers={"www-authenticate": "Bearer"})
        if authorization is not None and decided_by.reusable:
            self._remember(authorization, identity)
        return identity

    async def ready(self) -> dict[str, bool]:
        result = {}
        for authenticator in self.authenticators:
            try:
                result[f"auth.{authenticator.name}"] = bool(await authenticator.ready())
            except Exception:
                result[f"auth.{authenticator.name}"] = False
        return result

    def degraded(self) -> dict[str, str]:
        """The modes serving in a degraded way as of the last ``ready()``, with the reason."""
        found = {}
        for authenticator in self.authenticators:
            if isinstance(authenticator, Degradable):
                reason = authenticator.degraded()
                if reason is not None:
                    found[f"auth.{authenticator.name}"] = reason
        return found
