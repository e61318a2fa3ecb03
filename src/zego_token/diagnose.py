"""Explain a token: what it says, whether ZEGO would accept it, and if not, why and what to do.

``diagnose`` never raises for a bad token; every problem becomes a ``Finding`` with a
snake_case ``code``, a ``message`` and a ``fix``. It raises ``InvalidParameter`` only for bad
arguments of its own (a ServerSecret of the wrong shape, an impossible expected AppID).
The result carries neither the ServerSecret nor the token itself, so it is safe to print or log.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import unquote

from .errors import (
    DecryptionFailed,
    HeaderAltered,
    InvalidParameter,
    InvalidPrivilegePayload,
    MalformedToken,
)
from .fingerprint import Fingerprint, fingerprint_claims, fingerprint_header
from .kit import parse_kit_token
from .limits import (
    MAX_ROOM_ID_BYTES,
    MAX_USER_ID_BYTES,
    ZEGO_ID_RULE,
    check_app_id,
    check_secret,
    follows_zego_id_rules,
)
from .privileges import (
    Privileges,
    has_empty_stream_list,
    parse_privileges,
    try_parse_privileges,
)
from .token04 import (
    VERSION,
    Token04,
    TokenHeader,
    decode_token04,
    read_claims_text,
    read_header,
)

Severity = Literal["error", "warning", "info"]
Verdict = Literal["valid", "invalid", "unverified"]

# A token created further ahead than this means the minting server's clock is wrong.
CLOCK_SKEW_TOLERANCE = 300

_DROP_LINE_BREAKS = {ord(c): None for c in "\r\n\t"}
_NEW_TOKEN_FIX = "mint a new token and have the client fetch a fresh one before the old expires"
_SECRET_FIX = (
    "use the ServerSecret of the token's AppID (ZEGOCLOUD console > project > ServerSecret); "
    "if the secret is right, the token was changed between your server and the client"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with (or worth knowing about) a token."""

    code: str
    severity: Severity
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class KitFields:
    """The readable, unauthenticated half of a kit token (``token#base64json``)."""

    app_id: int
    user_id: str
    room_id: str
    user_name: str


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Everything ``diagnose`` learnt about a token, and its verdict.

    ``verified`` is True when a ServerSecret was given and the token decrypted with it;
    ``valid`` is True only when it is verified and no finding is an error. Without a secret the
    verdict is ``"unverified"`` unless something readable is already wrong.
    """

    now: int
    is_kit_token: bool
    header: TokenHeader | None
    kit: KitFields | None
    claims: Token04 | None
    findings: tuple[Finding, ...]
    verified: bool
    valid: bool
    verdict: Verdict
    # Which generator could have made the token (zego_token.fingerprint); None without a header.
    generator: Fingerprint | None = None

    @property
    def privileges(self) -> Privileges | None:
        return None if self.claims is None else self.claims.privileges

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (times in Unix seconds, ISO 8601 UTC and seconds from ``now``)."""
        header = claims = kit = privileges = None
        if self.header is not None:
            header = {
                "version": self.header.version,
                "mode": self.header.mode,
                "expire": self.header.expire,
                "expire_iso": iso_utc(self.header.expire),
                "expires_in": self.header.expire - self.now,
                "iv_length": self.header.iv_length,
                "ciphertext_length": self.header.ciphertext_length,
            }
        if self.kit is not None:
            kit = {
                "app_id": self.kit.app_id,
                "user_id": self.kit.user_id,
                "room_id": self.kit.room_id,
                "user_name": self.kit.user_name,
            }
        if self.claims is not None:
            claims = {
                "app_id": self.claims.app_id,
                "user_id": self.claims.user_id,
                "nonce": self.claims.nonce,
                "ctime": self.claims.ctime,
                "ctime_iso": iso_utc(self.claims.ctime),
                "expire": self.claims.expire,
                "expire_iso": iso_utc(self.claims.expire),
                "expires_in": self.claims.expire - self.now,
                "payload": self.claims.payload,
                "payload_kind": payload_kind(self.claims.payload),
                "mode": self.claims.mode,
            }
        if self.privileges is not None:
            p = self.privileges
            privileges = {
                "room_id": p.room_id,
                "login": p.login,
                "publish": p.publish,
                "stream_ids": None if p.stream_ids is None else list(p.stream_ids),
            }
        return {
            "verdict": self.verdict,
            "valid": self.valid,
            "verified": self.verified,
            "now": self.now,
            "now_iso": iso_utc(self.now),
            "is_kit_token": self.is_kit_token,
            "header": header,
            "kit": kit,
            "claims": claims,
            "privileges": privileges,
            "generator": None if self.generator is None else self.generator.as_dict(),
            "findings": [
                {"code": f.code, "severity": f.severity, "message": f.message, "fix": f.fix}
                for f in self.findings
            ],
        }


def diagnose(
    token_or_kit: str,
    secret: str | None = None,
    *,
    app_id: int | None = None,
    user_id: str | None = None,
    now: float | None = None,
) -> Diagnosis:
    """Explain ``token_or_kit`` (a Token04 or a UIKit kit token).

    Without ``secret`` only the header and the kit token's fields can be read, and nothing is
    authenticated. ``app_id`` and ``user_id`` are what the client uses; a token made for others
    is reported. ``now`` (Unix seconds) pins the clock for reproducible output.
    """
    if not isinstance(token_or_kit, str):
        raise InvalidParameter(
            f"token must be a string, got {type(token_or_kit).__name__}", parameter="token"
        )
    if user_id is not None and not isinstance(user_id, str):
        raise InvalidParameter("expected user_id must be a string", parameter="user_id")
    if secret is not None:
        check_secret(secret)
    if app_id is not None:
        check_app_id(app_id)
    clock = int(time.time() if now is None else now)
    return _Diagnostician(token_or_kit, secret, app_id, user_id, clock).run()


def iso_utc(unix_seconds: int) -> str:
    """``2023-11-14T22:13:20Z``; a time no calendar can hold is shown as its number."""
    try:
        moment = datetime.fromtimestamp(unix_seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{unix_seconds} (out of calendar range)"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: int) -> str:
    """A short human duration in at most two units: ``45 s``, ``59 min``, ``3 h 5 min``, ``2 d``."""
    s = abs(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        hours, minutes = divmod(s // 60, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(s // 3600, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def expiry_phrase(expire: int, now: int) -> str:
    """``expires in 59 min`` or ``expired 3 h ago``."""
    left = expire - now
    if left > 0:
        return f"expires in {duration(left)}"
    return f"expired {duration(left)} ago" if left else "expired just now"


def relative_phrase(moment: int, now: int) -> str:
    """``in 59 min``, ``3 h ago`` or ``now``."""
    delta = moment - now
    if delta == 0:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


class _Diagnostician:
    """One diagnosis run: collects findings while reading the token layer by layer."""

    def __init__(
        self, text: str, secret: str | None, app_id: int | None, user_id: str | None, now: int
    ) -> None:
        self.text = text
        self.secret = secret
        self.expected_app_id = app_id
        self.expected_user_id = user_id
        self.now = now
        self.findings: list[Finding] = []
        self.kit: KitFields | None = None
        self.header: TokenHeader | None = None
        self.claims: Token04 | None = None
        self.generator: Fingerprint | None = None

    def add(self, code: str, severity: Severity, message: str, fix: str) -> None:
        self.findings.append(Finding(code, severity, message, fix))

    def run(self) -> Diagnosis:
        token = self._unwrap_kit(self.text.strip())
        if token is not None:
            token = self._repair_transport(token)
        if token is not None:
            self._read_header(token)
        if self.header is not None and token is not None:
            if self.secret is not None:
                self._decrypt(token, self.secret)
            self._check_mode()
            self._check_expiry()
            self._fingerprint(token)
        if self.claims is not None:
            self._check_claims(self.claims)
        self._check_expected()
        self._check_kit_against_claims()
        self._check_ids()
        verified = self.claims is not None
        has_error = any(f.severity == "error" for f in self.findings)
        if not verified and self.secret is None and not has_error:
            self.add(
                "not_verified",
                "info",
                "no ServerSecret given: the header and kit fields shown are readable by anyone "
                "and prove nothing",
                "give the ServerSecret to decrypt the token and check its claims",
            )
        # Most likely cause first: a person reads the first line and stops.
        self.findings.sort(key=_rank)
        verdict: Verdict = "invalid" if has_error else ("valid" if verified else "unverified")
        return Diagnosis(
            now=self.now,
            is_kit_token=self.kit is not None or "#" in self.text,
            header=self.header,
            kit=self.kit,
            claims=self.claims,
            findings=tuple(self.findings),
            verified=verified,
            valid=verdict == "valid",
            verdict=verdict,
            generator=self.generator,
        )

    # -- layers -------------------------------------------------------------------------

    def _unwrap_kit(self, text: str) -> str | None:
        if not text:
            self.add(
                "empty_token",
                "error",
                "the token is empty",
                "pass the token string your server minted (it starts with '04')",
            )
            return None
        if "#" not in text:
            return text
        try:
            kit = parse_kit_token(text)
        except MalformedToken as error:
            self.add(
                "malformed_kit_token",
                "error",
                f"kit token cannot be read: {error}",
                "compose kit tokens with generateKitTokenForProduction(appID, token, roomID, "
                "userID, userName) and pass them on unchanged",
            )
            # The token before the '#' may still be readable: diagnose it on its own.
            return text.partition("#")[0] or None
        self.kit = KitFields(kit.app_id, kit.user_id, kit.room_id, kit.user_name)
        return kit.token

    def _repair_transport(self, token: str) -> str:
        """Spot the usual transport damage, report it, and read on with the repaired token."""
        if any(c in token for c in "\r\n\t"):
            self.add(
                "line_breaks",
                "error",
                "the token contains line breaks or tabs: it was wrapped or split when copied",
                "join the token back into one line with nothing between its parts",
            )
            token = token.translate(_DROP_LINE_BREAKS)
        if not token.startswith(VERSION):
            return token  # not a damaged token but another thing: _read_header says what
        if "%" in token:
            self.add(
                "url_encoded",
                "error",
                "the token is still URL-encoded (it contains '%'): it was encoded once too often "
                "or never decoded",
                "URL-decode it once (decodeURIComponent) before use, or send it in a JSON body",
            )
            token = unquote(token)
        if " " in token:
            self.add(
                "plus_became_space",
                "error",
                "the token contains spaces: a '+' of its base64 was turned into a space by "
                "query-string or form decoding",
                "URL-encode the token when putting it in a query string (encodeURIComponent), or "
                "send it in a JSON body",
            )
            token = token.replace(" ", "+")
        return token

    def _read_header(self, token: str) -> None:
        if not token.startswith(VERSION):
            if token.startswith("eyJ"):
                what = "it looks like a JWT, not a ZEGO token"
            elif token[:2] in ("01", "02", "03"):
                what = f"it is a Token{token[:2]}, an older format this tool does not read"
            elif token[:1] in "\"'`" and token[1:3] == VERSION:
                self.add(
                    "not_token04",
                    "error",
                    f"this is not a Token04: it is wrapped in quotes ({token[:1]}...)",
                    "remove the quotes: pass only the characters between them, starting with '04'",
                )
                return
            else:
                what = f"it starts with {token[:2]!r}, not {VERSION!r}"
            self.add(
                "not_token04",
                "error",
                f"this is not a Token04: {what}",
                "pass the token minted with your AppID and ServerSecret (Token04 strings start "
                "with '04')",
            )
            return
        try:
            self.header = read_header(token)
        except MalformedToken as error:
            self.add(
                "tampered_or_truncated",
                "error",
                str(error),
                "pass the token exactly as your server returned it: check for copy-paste cuts, "
                "line breaks, and URL or JSON escaping on the way",
            )

    def _decrypt(self, token: str, secret: str) -> None:
        try:
            self.claims = decode_token04(token, secret, verify_expiry=False)
        except HeaderAltered as error:
            self.add(
                "tampered_or_truncated",
                "error",
                str(error),
                "use the token exactly as your server minted it; never edit its expiry",
            )
        except DecryptionFailed as error:
            self.add("wrong_secret", "error", str(error), _SECRET_FIX)
        except MalformedToken as error:
            self.add(
                "tampered_or_truncated",
                "error",
                str(error),
                "mint tokens with a Token04 generator and pass them on unchanged",
            )

    def _fingerprint(self, token: str) -> None:
        assert self.header is not None
        if self.claims is not None and self.secret is not None:
            # Decrypted once more for the raw JSON: decode_token04 keeps only the values.
            mode, text = read_claims_text(token, self.secret)
            self.generator = fingerprint_claims(mode, self.header.iv, text)
        else:
            self.generator = fingerprint_header(
                self.header.mode, self.header.iv, expire=self.header.expire
            )

    def _check_mode(self) -> None:
        assert self.header is not None
        if self.header.mode == "cbc":
            self.add(
                "cbc_token",
                "warning",
                "this is a legacy CBC token: ZEGO deprecated CBC, and CBC tokens carry no "
                "integrity check, so alterations are detected only by luck",
                "mint GCM tokens instead (the default of generate_token04 and of this tool; "
                "official generators: use the GCM version)",
            )

    def _check_expiry(self) -> None:
        assert self.header is not None
        claims = self.claims
        expire = claims.expire if claims is not None else self.header.expire
        source = "" if claims is not None else " (according to its unauthenticated header)"
        if self.now >= expire:
            self.add(
                "expired",
                "error",
                f"the token {expiry_phrase(expire, self.now)}, at {iso_utc(expire)}{source}",
                _NEW_TOKEN_FIX,
            )
        if claims is not None and claims.ctime > self.now + CLOCK_SKEW_TOLERANCE:
            self.add(
                "created_in_future",
                "warning",
                f"the token's creation time {iso_utc(claims.ctime)} is "
                f"{duration(claims.ctime - self.now)} ahead of now: the minting server's clock "
                "is wrong",
                "synchronise the token server's clock (NTP); ZEGO checks expiry against its own",
            )

    def _check_claims(self, claims: Token04) -> None:
        if claims.payload and claims.privileges is None:
            self._explain_free_payload(claims.payload)
        privileges = claims.privileges
        if privileges is not None and privileges.publish and has_empty_stream_list(claims.payload):
            self.add(
                "empty_stream_list",
                "warning",
                f"the token may publish in room {privileges.room_id!r} with an empty "
                '"stream_id_list", which ZEGO reads as no restriction: it may publish any stream '
                "ID in that room, other users' included",
                "mint it with the stream IDs the user may publish (stream_ids=[...], zego-token "
                "generate --stream ID), or without publish for a viewer; zego-token and its "
                "server refuse to mint an empty list",
            )
        if privileges is not None and not privileges.login:
            self.add(
                "login_not_granted",
                "warning",
                f"the token does not allow logging in to room {privileges.room_id!r} "
                '(privilege "1" is 0)',
                "grant login (privilege 1) unless this token is meant to be refused",
            )

    def _explain_free_payload(self, payload: str) -> None:
        """A payload that is not privilege JSON: legal in a basic token, so never an error.

        ZEGO's own basic-token sample sends ``{"demoPayload": ""}``; ZEGO carries such a
        payload without reading privileges from it. Only JSON that names ``room_id`` or
        ``privilege`` looks like privileges gone wrong, and earns a warning.
        """
        try:
            parse_privileges(payload)
            reason = "it does not parse"  # pragma: no cover - privileges would be set
        except InvalidPrivilegePayload as error:
            reason = str(error)
        if _looks_like_privileges(payload):
            self.add(
                "payload_privileges_malformed",
                "warning",
                f"the payload names room privileges but is not ZEGO's privilege JSON ({reason}): "
                "ZEGO reads it as a basic token's free payload, granting no room privileges",
                'if room privileges were meant, put {"room_id": ..., "privilege": {"1": 0|1, '
                '"2": 0|1}, "stream_id_list": null|[...]} in the payload (privilege_payload() '
                "makes it)",
            )
            return
        self.add(
            "free_payload",
            "info",
            "the payload is free text, not ZEGO's privilege JSON: this is a basic token, which "
            "may carry any payload; it grants no room privileges",
            "nothing to fix for a basic token; for room privileges, mint a token whose payload "
            "is privilege JSON (privilege_payload() or zego-token generate --room)",
        )

    def _check_expected(self) -> None:
        # The claims are authoritative; without them the kit fields are the best readable guess.
        source, actual_app, actual_user = "token", None, None
        if self.claims is not None:
            actual_app, actual_user = self.claims.app_id, self.claims.user_id
        elif self.kit is not None:
            source = "kit token"
            actual_app, actual_user = self.kit.app_id, self.kit.user_id
        expected_app, expected_user = self.expected_app_id, self.expected_user_id
        if expected_app is not None and actual_app is not None and actual_app != expected_app:
            self.add(
                "app_id_mismatch",
                "error",
                f"the {source} is for AppID {actual_app}, but the client uses AppID {expected_app}",
                "mint the token with the AppID and ServerSecret of the same ZEGOCLOUD project "
                "the client uses",
            )
        if expected_user is not None and actual_user is not None and actual_user != expected_user:
            self.add(
                "user_id_mismatch",
                "error",
                f"the {source} is for user ID {actual_user!r}, but the client logs in as "
                f"{expected_user!r}",
                "mint the token for the exact user ID the client logs in with "
                "(IDs are case-sensitive)",
            )

    def _check_kit_against_claims(self) -> None:
        kit, claims = self.kit, self.claims
        if kit is None or claims is None:
            return
        fix = (
            "compose the kit token from the same AppID, user ID and room ID the token was "
            "minted for"
        )
        if kit.app_id != claims.app_id:
            self.add(
                "kit_app_id_differs",
                "error",
                f"the kit token says AppID {kit.app_id} but the token inside is for "
                f"AppID {claims.app_id}",
                fix,
            )
        if kit.user_id != claims.user_id:
            self.add(
                "kit_user_id_differs",
                "error",
                f"the kit token says user ID {kit.user_id!r} but the token inside is for "
                f"{claims.user_id!r}",
                fix,
            )
        privileges = claims.privileges
        if privileges is not None and kit.room_id != privileges.room_id:
            self.add(
                "kit_room_id_differs",
                "error",
                f"the kit token joins room {kit.room_id!r} but the token only grants room "
                f"{privileges.room_id!r}",
                fix,
            )

    def _check_ids(self) -> None:
        user_id = (
            self.claims.user_id
            if self.claims is not None
            else (self.kit.user_id if self.kit is not None else None)
        )
        if user_id is not None:
            problem = _id_problem(user_id, MAX_USER_ID_BYTES)
            if problem:
                self.add(
                    "user_id_breaks_rules",
                    "error",
                    f"user ID {user_id!r} {problem}",
                    f"use user IDs of 1..{MAX_USER_ID_BYTES} bytes; {ZEGO_ID_RULE}",
                )
        rooms = []
        if self.privileges_room is not None:
            rooms.append(self.privileges_room)
        if self.kit is not None and self.kit.room_id not in rooms:
            rooms.append(self.kit.room_id)
        for room_id in rooms:
            problem = _id_problem(room_id, MAX_ROOM_ID_BYTES)
            if problem:
                self.add(
                    "room_id_breaks_rules",
                    "error",
                    f"room ID {room_id!r} {problem}",
                    f"use room IDs of 1..{MAX_ROOM_ID_BYTES} bytes; {ZEGO_ID_RULE}",
                )

    @property
    def privileges_room(self) -> str | None:
        if self.claims is None or self.claims.privileges is None:
            return None
        return self.claims.privileges.room_id


_SEVERITY_ORDER = ("error", "warning", "info")
# Causes that explain everything after them come first (a wrong secret hides every claim).
_CODE_ORDER = (
    "empty_token",
    "malformed_kit_token",
    "url_encoded",
    "plus_became_space",
    "line_breaks",
    "not_token04",
    "tampered_or_truncated",
    "wrong_secret",
    "app_id_mismatch",
    "user_id_mismatch",
    "kit_app_id_differs",
    "kit_user_id_differs",
    "kit_room_id_differs",
    "user_id_breaks_rules",
    "room_id_breaks_rules",
    "expired",
)


def _rank(finding: Finding) -> tuple[int, int]:
    code = _CODE_ORDER.index(finding.code) if finding.code in _CODE_ORDER else len(_CODE_ORDER)
    return _SEVERITY_ORDER.index(finding.severity), code


def _looks_like_privileges(payload: str) -> bool:
    """True when ``payload`` is a JSON object naming ``room_id`` or ``privilege``."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and ("room_id" in data or "privilege" in data)


def payload_kind(payload: str) -> str:
    """``"empty"``, ``"privileges"`` (ZEGO's privilege JSON) or ``"free"`` (anything else)."""
    if not payload:
        return "empty"
    return "privileges" if try_parse_privileges(payload) is not None else "free"


def _id_problem(value: str, max_bytes: int) -> str:
    """Why ``value`` breaks ZEGO's ID rules, or "" when it follows them."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "contains characters that cannot be encoded as UTF-8"
    if not value:
        return "is empty"
    if size > max_bytes:
        return f"is {size} bytes; ZEGO allows at most {max_bytes}"
    if not follows_zego_id_rules(value):
        return "breaks ZEGO's character rules"
    return ""


__all__ = [
    "CLOCK_SKEW_TOLERANCE",
    "Diagnosis",
    "Finding",
    "KitFields",
    "Severity",
    "Verdict",
    "diagnose",
    "duration",
    "expiry_phrase",
    "iso_utc",
    "payload_kind",
    "relative_phrase",
]
