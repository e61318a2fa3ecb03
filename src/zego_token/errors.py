"""The exception tree: one base class to catch, precise subclasses to branch on.

Every message says what is wrong and what to do about it; none ever contains a ServerSecret
or a token.
"""

from __future__ import annotations


class ZegoTokenError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidParameter(ZegoTokenError, ValueError):
    """An argument breaks ZEGO's rules (or this library's) before any token is made.

    ``code`` follows the official generators' error codes so that callers migrating from
    ``token04.py`` can keep branching on them: 1 app ID, 3 user ID, 5 secret,
    6 effective time, and 0 for the parameters the official code does not check
    (room ID, stream IDs, user name, mode, IV, nonce, payload).
    """

    def __init__(self, message: str, *, code: int = 0, parameter: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.parameter = parameter


class InvalidToken(ZegoTokenError):
    """A token was read and refused; subclasses say why."""


class MalformedToken(InvalidToken):
    """The string is not a Token04 (or kit token) at all: wrong prefix, base64, or layout."""


class DecryptionFailed(InvalidToken):
    """The token does not open with this ServerSecret: wrong secret, or the token was altered."""


class HeaderAltered(DecryptionFailed):
    """The token decrypts, but its unauthenticated header disagrees with its encrypted claims:
    someone edited the token (its expiry) after it was minted. The secret is right."""

    def __init__(self, message: str, *, header_expire: int, claims_expire: int) -> None:
        super().__init__(message)
        self.header_expire = header_expire
        self.claims_expire = claims_expire


class TokenExpired(InvalidToken):
    """The token was valid but its ``expire`` time has passed."""

    def __init__(self, message: str, *, expire: int) -> None:
        super().__init__(message)
        self.expire = expire


class AppIdMismatch(InvalidToken):
    """The token was made for another AppID than the one expected."""

    def __init__(self, message: str | None = None, *, expected: int, actual: int) -> None:
        super().__init__(
            message
            or f"token was made for AppID {actual}, not {expected}: use the ServerSecret and "
            "AppID of the same ZEGOCLOUD project"
        )
        self.expected = expected
        self.actual = actual


class UserIdMismatch(InvalidToken):
    """The token was made for another user ID than the one expected."""

    def __init__(self, message: str | None = None, *, expected: str, actual: str) -> None:
        super().__init__(
            message
            or f"token was made for user ID {actual!r}, not {expected!r}: the client must log in "
            "with the same user ID the token was minted for"
        )
        self.expected = expected
        self.actual = actual


class InvalidPrivilegePayload(ZegoTokenError):
    """A payload that should hold ZEGO's privilege JSON does not."""
