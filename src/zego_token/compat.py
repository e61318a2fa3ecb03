"""Drop-in for ZEGO's official Python ``token04.py`` (its GCM and CBC versions): change one import.

The same names: ``generate_token04(app_id, user_id, secret, effective_time_in_seconds,
payload)``, ``TokenInfo(token, error_code, error_message)`` and the ``ERROR_CODE_*`` constants.
Like the official function it never raises, and answers ``error_code`` 0 with the message
``"success"``. It holds one invariant the official module does not: ``error_code`` is 0 if and
only if ``token`` is non-empty and decodes with ``secret``.

Where the official module would mint a token ZEGO rejects, crash, or mint insecurely, this one
refuses with the official error code that fits, or does the safe thing; docs/compat.md lists
every difference, and tests/test_compat_dropin.py checks each.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidParameter
from .limits import check_app_id, check_effective_time, check_secret, check_user_id
from .token04 import generate_token04 as _generate

ERROR_CODE_SUCCESS = 0
ERROR_CODE_APP_ID_INVALID = 1
ERROR_CODE_USER_ID_INVALID = 3
# Not in the official token04.py, which never checks the payload: ZEGO's earlier generators
# (token03) use 4 for an invalid privilege, which the Token04 payload now carries.
ERROR_CODE_PRIVILEGE_ID_INVALID = 4
ERROR_CODE_SECRET_INVALID = 5
ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID = 6

SUCCESS_MESSAGE = "success"


@dataclass(slots=True)
class TokenInfo:
    """What the official generator returns: the token ("" on failure), a code and a message."""

    token: str
    error_code: int
    error_message: str


class ErrorCode:
    """The ``ERROR_CODE_*`` constants as one namespace (kept for earlier callers of this module)."""

    SUCCESS = ERROR_CODE_SUCCESS
    APP_ID_INVALID = ERROR_CODE_APP_ID_INVALID
    USER_ID_INVALID = ERROR_CODE_USER_ID_INVALID
    PRIVILEGE_ID_INVALID = ERROR_CODE_PRIVILEGE_ID_INVALID
    SECRET_INVALID = ERROR_CODE_SECRET_INVALID
    EFFECTIVE_TIME_IN_SECONDS_INVALID = ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID


def generate_token04(
    app_id: int,
    user_id: str,
    secret: str,
    effective_time_in_seconds: int,
    payload: str | None = "",
) -> TokenInfo:
    """Mint a GCM Token04 like the official generator; refuse with its codes instead of raising.

    The arguments are checked in the official order (AppID, user ID, secret, lifetime), so a
    call with several mistakes gets the code the official module would give; then the payload,
    which the official module never checks.
    """
    try:
        check_app_id(app_id)
        check_user_id(user_id)
        check_secret(secret)
        check_effective_time(effective_time_in_seconds)
    except InvalidParameter as error:
        return _refusal(error)
    if payload is None:
        # The official module writes JSON null; ZEGO documents "" for a basic token, and both
        # mean a token without privileges.
        payload = ""
    if not isinstance(payload, str):
        return TokenInfo(
            "",
            ERROR_CODE_PRIVILEGE_ID_INVALID,
            f"payload must be a string, got {type(payload).__name__}: pass json.dumps(...) of "
            'the privileges (ZEGO\'s samples do), or "" for a basic token',
        )
    try:
        token = _generate(app_id, user_id, secret, effective_time_in_seconds, payload)
    except InvalidParameter as error:
        return _refusal(error)
    return TokenInfo(token, ERROR_CODE_SUCCESS, SUCCESS_MESSAGE)


def _refusal(error: InvalidParameter) -> TokenInfo:
    # Code 0 would read as success: a parameter without an official code is the payload here.
    return TokenInfo("", error.code or ERROR_CODE_PRIVILEGE_ID_INVALID, str(error))


__all__ = [
    "ERROR_CODE_APP_ID_INVALID",
    "ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID",
    "ERROR_CODE_PRIVILEGE_ID_INVALID",
    "ERROR_CODE_SECRET_INVALID",
    "ERROR_CODE_SUCCESS",
    "ERROR_CODE_USER_ID_INVALID",
    "SUCCESS_MESSAGE",
    "ErrorCode",
    "TokenInfo",
    "generate_token04",
]
