"""Mint, verify and explain ZEGOCLOUD Token04 tokens and UIKit kit tokens."""

from __future__ import annotations

from .errors import (
    AppIdMismatch,
    DecryptionFailed,
    HeaderAltered,
    InvalidParameter,
    InvalidPrivilegePayload,
    InvalidToken,
    MalformedToken,
    TokenExpired,
    UserIdMismatch,
    ZegoTokenError,
)
from .issuer import IssuedKitToken, IssuedToken, TokenIssuer
from .kit import KitToken, kit_token_for_production, kit_token_for_test, parse_kit_token
from .privileges import Privileges, parse_privileges, privilege_payload
from .token04 import (
    Mode,
    Token04,
    TokenHeader,
    decode_token04,
    encode_token04,
    generate_token04,
    read_header,
)

__version__ = "0.1.0"

__all__ = [
    "AppIdMismatch",
    "DecryptionFailed",
    "HeaderAltered",
    "InvalidParameter",
    "InvalidPrivilegePayload",
    "InvalidToken",
    "IssuedKitToken",
    "IssuedToken",
    "KitToken",
    "MalformedToken",
    "Mode",
    "Privileges",
    "Token04",
    "TokenExpired",
    "TokenHeader",
    "TokenIssuer",
    "UserIdMismatch",
    "ZegoTokenError",
    "__version__",
    "decode_token04",
    "encode_token04",
    "generate_token04",
    "kit_token_for_production",
    "kit_token_for_test",
    "parse_kit_token",
    "parse_privileges",
    "privilege_payload",
    "read_header",
]
