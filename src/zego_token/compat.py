"""Drop-in for the official ``token04.py``: change one import line, keep the calling code.

The official function never raises; it returns ``TokenInfo(token, error_code, error_message)``
with ``error_code`` 0 on success and 1, 3, 5 or 6 for a bad AppID, user ID, secret or time.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidParameter
from .token04 import generate_token04 as _generate


@dataclass(slots=True)
class TokenInfo:
    token: str
    error_code: int
    error_message: str


class ErrorCode:
    SUCCESS = 0
    APP_ID_INVALID = 1
    USER_ID_INVALID = 3
    SECRET_INVALID = 5
    EFFECTIVE_TIME_IN_SECONDS_INVALID = 6


def generate_token04(
    app_id: int,
    user_id: str,
    secret: str,
    effective_time_in_seconds: int,
    payload: str = "",
) -> TokenInfo:
    """Same signature and result type as the official generator (GCM, secure randomness)."""
    try:
        return TokenInfo(
            _generate(app_id, user_id, secret, effective_time_in_seconds, payload), 0, ""
        )
    except InvalidParameter as error:
        return TokenInfo("", error.code, str(error))
