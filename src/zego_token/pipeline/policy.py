"""The declarative rules applied after authentication: who may get which token.

``PolicyDecider`` checks a ``TokenRequest`` against the identity (its bound user ID and its
``Grants``) and against the ``[policy]`` section. It never narrows a request silently: anything
the identity may not have is refused with a 403 whose code names the rule, so a client that asked
for publishing learns it may not publish instead of receiving a token that fails later in the room.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Annotated

from msgspec import Meta

from ..limits import INT32_MAX, ZEGO_ID_RULE, follows_zego_id_rules
from .contracts import Identity, RequestContext, TokenRequest
from .errors import HttpError
from .schema import ConfigError, Section
from .stream_template import StreamTemplate, TemplateError


def _deny(code: str, message: str) -> HttpError:
    return HttpError(403, code, message)


class PolicySettings(Section, frozen=True, kw_only=True):
    """The ``[policy]`` section. Every rule is off unless configured, except ZEGO's ID rules."""

    SECTION = "policy"

    room_patterns: tuple[str, ...] | None = None  # fnmatch globs; None: any room
    stream_id_template: str = ""  # e.g. "{room_id}_{user_id}_*"
    zego_id_rules: bool = True
    # True: an identity without a publish grant never publishes.
    publish_requires_grant: bool = False
    min_ttl: Annotated[int, Meta(ge=0, le=INT32_MAX)] = 0
    max_ttl: Annotated[int, Meta(ge=0, le=INT32_MAX)] = 0  # 0: no policy bound

    def __post_init__(self) -> None:
        if self.room_patterns is not None and not all(self.room_patterns):
            raise ConfigError(
                "policy.room_patterns",
                "must list at least one non-empty pattern (remove the key to allow any room)",
            )
        if self.stream_id_template:
            try:
                template = StreamTemplate.parse(self.stream_id_template)
            except TemplateError as error:
                raise ConfigError("policy.stream_id_template", str(error)) from None
            foreign = sorted(c for c in template.separators if not follows_zego_id_rules(c))
            if foreign and self.zego_id_rules:
                raise ConfigError(
                    "policy.stream_id_template",
                    f"the separator {foreign[0]!r} is not a character ZEGO allows in IDs, so no "
                    f"stream ID could pass policy.zego_id_rules; use one such as '_', '@' or '~'",
                )
        if self.max_ttl and self.min_ttl > self.max_ttl:
            raise ConfigError(
                "policy.min_ttl", f"is {self.min_ttl}, above policy.max_ttl ({self.max_ttl})"
            )


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


class PolicyDecider:
    """Implements ``contracts.Decider``: returns the request unchanged or raises a 403."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()
        text = self.settings.stream_id_template
        self.template = StreamTemplate.parse(text) if text else None
        # In this order: the first rule that refuses names the code.
        self._rules = (
            self._check_user,
            self._check_app,
            self._check_room,
            self._check_publish,
            self._check_streams,
            self._check_ttl,
        )

    async def decide(
        self, identity: Identity, request: TokenRequest, context: RequestContext
    ) -> TokenRequest:
        return self.decide_now(identity, request)

    def decide_now(self, identity: Identity, request: TokenRequest) -> TokenRequest:
        # Each rule starts with its own guard (the cheap test of whether it could refuse
        # anything), so a new rule cannot be added without the test that decides it runs; the
        # usual request (no room, no grants) passes the guards and runs only the ID rules.
        for rule in self._rules:
            rule(identity, request)
        return request

    def _check_user(self, identity: Identity, request: TokenRequest) -> None:
        if identity.user_id is not None and request.user_id != identity.user_id:
            raise _deny(
                "user_id_not_allowed",
                "you may only get a token for your own user ID (the one your sign-in gave you)",
            )
        if self.settings.zego_id_rules and not follows_zego_id_rules(request.user_id):
            raise _deny("user_id_rules", f"the user ID breaks ZEGO's ID rules: {ZEGO_ID_RULE}")

    def _check_app(self, identity: Identity, request: TokenRequest) -> None:
        allowed = identity.grants.app_ids
        if allowed is not None and request.app_id not in allowed:
            raise _deny(
                "app_not_allowed", f"this identity may not get tokens for AppID {request.app_id}"
            )

    def _check_room(self, identity: Identity, request: TokenRequest) -> None:
        if (
            request.room_id is None
            and identity.grants.room_patterns is None
            and self.settings.room_patterns is None
        ):
            return
        rules = [
            ("identity", identity.grants.room_patterns),
            ("policy", self.settings.room_patterns),
        ]
        for source, patterns in rules:
            if patterns is None:
                continue
            # A token without a room would let its holder into any room where ZEGO's room
            # authentication is off, so a room restriction requires naming the room.
            if request.room_id is None:
                raise _deny(
                    "room_not_allowed",
                    "tokens here are only issued for a named room: pass roomID (room_id)",
                )
            if not _matches(request.room_id, patterns):
                who = "your sign-in does" if source == "identity" else "this server's policy does"
                raise _deny("room_not_allowed", f"{who} not allow room {request.room_id!r}")
        room_id = request.room_id
        if (
            room_id is not None
            and self.settings.zego_id_rules
            and not follows_zego_id_rules(room_id)
        ):
            raise _deny("room_id_rules", f"the room ID breaks ZEGO's ID rules: {ZEGO_ID_RULE}")

    def _check_publish(self, identity: Identity, request: TokenRequest) -> None:
        if not request.publish:
            return
        granted = identity.grants.publish
        if granted is False or (granted is None and self.settings.publish_requires_grant):
            # Refused rather than downgraded to a login-only token: a silent downgrade would
            # surface later as an opaque publish failure inside the room.
            raise _deny(
                "publish_not_allowed",
                "this identity may not publish; ask again with publish=0 for a viewer token",
            )

    def _check_streams(self, identity: Identity, request: TokenRequest) -> None:
        if not request.publish and request.stream_ids is None:
            return
        granted = identity.grants.stream_ids
        template = self.template
        if request.stream_ids is None:
            # "Any stream" is only possible when nothing restricts stream IDs.
            if request.publish and (granted is not None or template) and request.room_id:
                raise _deny(
                    "stream_id_not_allowed",
                    "publishing here requires naming the stream IDs (streamID)",
                )
            return
        if not request.stream_ids:
            # The parser refuses an empty list; this keeps a caller that builds requests by
            # hand from minting one (ZEGO reads it as any stream).
            raise HttpError(400, "empty_stream_list", "stream_ids is empty: name the stream IDs")
        pattern = ""
        if template is not None:
            pattern = self._template_glob(template, request)
        for stream_id in request.stream_ids:
            if granted is not None and not _matches(stream_id, granted):
                raise _deny(
                    "stream_id_not_allowed", f"your sign-in does not allow stream {stream_id!r}"
                )
            if template is not None and not fnmatchcase(stream_id, pattern):
                raise _deny(
                    "stream_id_not_allowed",
                    f"stream {stream_id!r} does not follow the template {template.text!r}",
                )
            if self.settings.zego_id_rules and not follows_zego_id_rules(stream_id):
                raise _deny(
                    "stream_id_rules", f"a stream ID breaks ZEGO's ID rules: {ZEGO_ID_RULE}"
                )

    @staticmethod
    def _template_glob(template: StreamTemplate, request: TokenRequest) -> str:
        """The glob of the request's stream IDs; refuses a pair whose streams are ambiguous."""
        if request.room_id is None:
            raise _deny("stream_id_not_allowed", "stream IDs need a room: pass roomID (room_id)")
        for what, value in (("user ID", request.user_id), ("room ID", request.room_id)):
            separator = template.separator_in(value)
            if separator is not None:
                # Without this, user "bob" could publish "r_bob_smith_cam", the stream of user
                # "bob_smith" under "{room_id}_{user_id}_*" (docs/auth.md, "Stream IDs").
                raise _deny(
                    "stream_id_ambiguous",
                    f"the {what} {value[:64]!r} contains {separator!r}, which separates the IDs "
                    f"in this server's stream ID template {template.text!r}: its stream IDs "
                    f"could be another user's, so it may not name stream IDs here; ask with "
                    f"publish=0 and no streamID, or use an ID without {separator!r}",
                )
        return template.glob(
            room_id=request.room_id, user_id=request.user_id, app_id=request.app_id
        )

    def _check_ttl(self, identity: Identity, request: TokenRequest) -> None:
        settings = self.settings
        if (
            identity.grants.max_ttl is None
            and not settings.max_ttl
            and request.ttl >= settings.min_ttl
        ):
            return
        bounds = [
            ("your sign-in allows", identity.grants.max_ttl),
            ("this server's policy allows", self.settings.max_ttl or None),
        ]
        for who, maximum in bounds:
            if maximum is not None and request.ttl > maximum:
                raise _deny(
                    "ttl_not_allowed",
                    f"expired_ts {request.ttl} is too long: {who} at most {maximum} seconds",
                )
        if request.ttl < self.settings.min_ttl:
            raise _deny(
                "ttl_not_allowed",
                f"expired_ts {request.ttl} is too short: this server's policy requires at least "
                f"{self.settings.min_ttl} seconds",
            )
