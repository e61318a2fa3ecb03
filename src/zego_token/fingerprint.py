"""Which generator made a token: the official generators (and this project) leave traits.

Each generator writes the claims' JSON in its own key order and escaping, draws its integer
nonce from its own range, and draws the GCM nonce or CBC IV either as random bytes or as
characters of ``[0-9a-z]`` (the facts: tests/vectors/README.md). A fingerprint keeps every
generator whose traits all agree with the token and names the trait behind each exclusion. It
never guesses: a generator is named alone only when the traits rule out every other one.
Without the ServerSecret only the header's nonce or IV can be read, so more generators remain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .glibc_rand import cpp_nonce_and_iv
from .limits import INT32_MAX, INT32_MIN
from .token04 import Mode, read_claims_text, read_header

Generator = Literal["python", "node", "go", "java", "php", "cpp", "dotnet", "zego-token"]
Randomness = Literal["csprng", "non-cryptographic", "time-seeded"]
Alphabet = Literal["hex", "base36", "bytes"]

GENERATORS: tuple[Generator, ...] = (
    "python",
    "node",
    "go",
    "java",
    "php",
    "cpp",
    "dotnet",
    "zego-token",
)
NAMES: dict[Generator, str] = {
    "python": "Python",
    "node": "Node.js",
    "go": "Go",
    "java": "Java",
    "php": "PHP",
    "cpp": "C++",
    "dotnet": ".NET",
    "zego-token": "zego-token",
}

_NAMES: dict[str, str] = {str(g): name for g, name in NAMES.items()}

_PY_ORDER = ("app_id", "user_id", "nonce", "ctime", "expire", "payload")
_GO_ORDER = ("app_id", "user_id", "ctime", "expire", "nonce", "payload")
_NET_ORDER = ("app_id", "user_id", "payload", "ctime", "expire", "nonce")
# json-simple's JSONObject is a HashMap: its order follows the keys' hashes, the same every time.
_JAVA_ORDER = ("user_id", "payload", "expire", "ctime", "app_id", "nonce")
_ORDER_NAMES: dict[tuple[str, ...], str] = {
    _PY_ORDER: "the order of Python's dict, Node's object literal, PHP's array and C++'s calls",
    _GO_ORDER: "Go's struct order",
    _NET_ORDER: ".NET's dictionary order",
    _JAVA_ORDER: "Java's hash-map order",
}

_NON_NEGATIVE = (0, INT32_MAX)
_SIGNED = (INT32_MIN, INT32_MAX)
_PYTHON_GCM_NONCES = (1, 90_000_000)
_DOTNET_NONCES = (0, INT32_MAX - 1)

# Which characters (besides '"', '\' and control characters, which all escape) each writes as
# an escape; every other character is written as itself.
_Escapes = Callable[[str], bool]


def _escapes_nothing_extra(c: str) -> bool:
    return False


def _go_escapes(c: str) -> bool:
    return c in "<>&\u2028\u2029"


def _java_escapes(c: str) -> bool:
    return c == "/" or "\x7f" <= c <= "\x9f" or "\u2000" <= c <= "\u20ff"


def _php_escapes(c: str) -> bool:
    # JSON_BIGINT_AS_STRING (2) passed to json_encode is JSON_HEX_AMP there.
    return c in "/&" or c > "\x7f"


def _dotnet_escapes(c: str) -> bool:
    return c == "\u2028"


@dataclass(frozen=True, slots=True)
class _Variant:
    """One version (CBC or GCM) of one generator, by its traits."""

    generator: Generator
    mode: Mode
    alphabet: Alphabet
    key_order: tuple[str, ...]
    nonces: tuple[int, int]
    escapes: _Escapes
    randomness: Randomness
    source: str  # where its nonce or IV comes from, in a few words


_PLAIN = _escapes_nothing_extra
_VARIANTS: tuple[_Variant, ...] = (
    _Variant("python", "cbc", "hex", _PY_ORDER, _NON_NEGATIVE, _PLAIN, "non-cryptographic",
             "Python's random module (Mersenne Twister)"),
    _Variant("python", "gcm", "base36", _PY_ORDER, _PYTHON_GCM_NONCES, _PLAIN,
             "non-cryptographic", "Python's random module (Mersenne Twister)"),
    _Variant("node", "cbc", "base36", _PY_ORDER, _NON_NEGATIVE, _PLAIN, "non-cryptographic",
             "Math.random()"),
    _Variant("node", "gcm", "bytes", _PY_ORDER, _SIGNED, _PLAIN, "csprng", "crypto.randomBytes"),
    _Variant("go", "cbc", "base36", _GO_ORDER, _NON_NEGATIVE, _go_escapes, "time-seeded",
             "math/rand seeded with the time in nanoseconds"),
    _Variant("go", "gcm", "bytes", _GO_ORDER, _NON_NEGATIVE, _go_escapes, "csprng",
             "random bytes"),
    _Variant("java", "cbc", "bytes", _JAVA_ORDER, _SIGNED, _java_escapes, "csprng",
             "SecureRandom"),
    _Variant("java", "gcm", "bytes", _JAVA_ORDER, _SIGNED, _java_escapes, "csprng",
             "SecureRandom"),
    _Variant("php", "cbc", "base36", _PY_ORDER, _NON_NEGATIVE, _php_escapes,
             "non-cryptographic", "PHP's rand() (Mersenne Twister)"),
    _Variant("php", "gcm", "base36", _PY_ORDER, _NON_NEGATIVE, _php_escapes,
             "non-cryptographic", "PHP's rand() (Mersenne Twister)"),
    _Variant("cpp", "cbc", "base36", _PY_ORDER, _NON_NEGATIVE, _PLAIN, "time-seeded",
             "srand(time(0)) and rand()"),
    _Variant("cpp", "gcm", "base36", _PY_ORDER, _NON_NEGATIVE, _PLAIN, "time-seeded",
             "srand(time(0)) and rand()"),
    _Variant("dotnet", "cbc", "base36", _NET_ORDER, _DOTNET_NONCES, _dotnet_escapes,
             "time-seeded", "System.Random seeded with the clock's ticks"),
    _Variant("dotnet", "gcm", "bytes", _NET_ORDER, _DOTNET_NONCES, _dotnet_escapes, "csprng",
             "random bytes"),
    _Variant("zego-token", "cbc", "bytes", _PY_ORDER, _SIGNED, _PLAIN, "csprng", "os.urandom"),
    _Variant("zego-token", "gcm", "bytes", _PY_ORDER, _SIGNED, _PLAIN, "csprng", "os.urandom"),
)  # fmt: skip

# Lifetimes people mint with; without the secret a C++ token is recognised when its IV is what
# srand(expire - ttl) gives for one of them.
COMMON_TTLS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)

_HEX = frozenset(b"0123456789abcdef")
_BASE36 = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_SHORT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_SHORT_ESCAPES["/"] = "/"


# A hex IV is also a possible [0-9a-z] IV; random bytes are never all from either alphabet
# but with odds of (36/256)**12, below one in ten billion.
_ALPHABETS_FITTING: dict[Alphabet, tuple[Alphabet, ...]] = {
    "hex": ("hex", "base36"),
    "base36": ("base36",),
    "bytes": ("bytes",),
}
_ALPHABET_NAMES: dict[Alphabet, str] = {
    "hex": "ASCII characters from [0-9a-f]",
    "base36": "ASCII characters from [0-9a-z]",
    "bytes": "random bytes",
}


def iv_alphabet(iv: bytes) -> Alphabet:
    """What a nonce or IV is drawn from, as far as its bytes show."""
    if iv and _HEX.issuperset(iv):
        return "hex"
    if iv and _BASE36.issuperset(iv):
        return "base36"
    return "bytes"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The generators that could have made a token, and the evidence, one line per trait.

    ``weak_randomness`` is True when every candidate draws its nonce or IV from a
    non-cryptographic or time-seeded generator; ``predictable`` when the nonce is exactly what
    C++'s ``srand(ctime)`` gives, so anyone can compute it from the token's creation time.
    ``from_claims`` tells whether the claims (with the secret) were read or the header alone.
    """

    mode: Mode
    candidates: tuple[Generator, ...]
    evidence: tuple[str, ...]
    weak_randomness: bool
    predictable: bool
    from_claims: bool

    @property
    def generator(self) -> Generator | None:
        """The one generator the traits leave, or None while several (or none) remain."""
        return self.candidates[0] if len(self.candidates) == 1 else None

    def label(self) -> str:
        """``Go (official generator, GCM)``, ``Python or C++``, or why none fits."""
        mode = self.mode.upper()
        if not self.candidates:
            return "unknown: no known generator writes tokens like this"
        if self.generator == "zego-token":
            text = f"zego-token (this project, {mode})"
        elif self.generator is not None:
            text = f"{NAMES[self.generator]} (official generator, {mode})"
            if self.predictable:
                text += ": nonce predictable from its ctime"
        else:
            text = describe(self.candidates)
            if not self.from_claims:
                text += " (from the header alone: the ServerSecret narrows this)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"candidates": list(self.candidates), "evidence": list(self.evidence)}


def describe(candidates: Iterable[str]) -> str:
    """``Python``, ``Python or C++``, ``Python, Node.js or PHP``; ``unknown`` for none."""
    names = [_NAMES.get(g, g) for g in candidates]
    if not names:
        return "unknown"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def fingerprint(token: str, secret: str | None = None) -> Fingerprint:
    """Fingerprint ``token``: from its claims' raw JSON with ``secret``, else from its header.

    Raises ``MalformedToken`` for a token that cannot be read and ``DecryptionFailed`` when
    ``secret`` does not open it."""
    header = read_header(token)
    if secret is None:
        return fingerprint_header(header.mode, header.iv, expire=header.expire)
    mode, text = read_claims_text(token, secret)
    return fingerprint_claims(mode, header.iv, text)


def fingerprint_header(mode: Mode, iv: bytes, *, expire: int | None = None) -> Fingerprint:
    """What the header alone shows: the nonce or IV's alphabet. With ``expire`` (the header's),
    a C++ token minted for one of ``COMMON_TTLS`` is recognised by its ``rand()`` IV."""
    survey = _Survey(mode, iv)
    survey.check_alphabet()
    if expire is not None and "cpp" in survey.generators():
        seeds = [expire - ttl for ttl in COMMON_TTLS if expire - ttl >= 0]
        ttl = _cpp_seed(iv, seeds)
        if ttl is not None:
            survey.predictable = True
            survey.keep(
                lambda v: v.generator == "cpp",
                f"the {survey.iv_name} is what srand({ttl}) and rand() give, {ttl} being the "
                f"header's expiry minus a usual TTL: C++'s generator",
            )
    return survey.result(from_claims=False)


def fingerprint_claims(mode: Mode, iv: bytes, claims_text: str) -> Fingerprint:
    """The full fingerprint: the header's nonce or IV and the claims' JSON as written."""
    survey = _Survey(mode, iv)
    survey.check_alphabet()
    try:
        pairs = json.loads(claims_text, object_pairs_hook=list)
    except (ValueError, RecursionError):
        pairs = None
    if not isinstance(pairs, list):
        survey.keep(lambda v: False, "the claims are not a JSON object: no generator wrote this")
        return survey.result(from_claims=True)
    claims = dict(pairs)
    survey.check_spacing(claims_text)
    survey.check_key_order(tuple(key for key, _ in pairs))
    nonce, ctime = claims.get("nonce"), claims.get("ctime")
    if type(nonce) is int:
        survey.check_nonce(nonce)
    survey.check_escaping(claims_text)
    if type(ctime) is int and "cpp" in survey.generators():
        survey.check_cpp(ctime)
    return survey.result(from_claims=True)


class _Survey:
    """One fingerprint in the making: the variants still standing, and why others fell."""

    def __init__(self, mode: Mode, iv: bytes) -> None:
        self.mode = mode
        self.iv = iv
        self.iv_name = "nonce" if mode == "gcm" else "IV"
        self.variants = [v for v in _VARIANTS if v.mode == mode]
        self.evidence: list[str] = []
        self.predictable = False

    def generators(self) -> tuple[Generator, ...]:
        return _generators(self.variants)

    def keep(self, test: Callable[[_Variant], bool], evidence: str) -> None:
        self.variants = [v for v in self.variants if test(v)]
        self.evidence.append(evidence)

    def check_alphabet(self) -> None:
        alphabet = iv_alphabet(self.iv)
        fits = _ALPHABETS_FITTING[alphabet]
        who = _who(v for v in self.variants if v.alphabet in fits)
        what = f"{len(self.iv)} {_ALPHABET_NAMES[alphabet]}"
        self.keep(lambda v: v.alphabet in fits, f"{self.iv_name} is {what}: {who}")

    def check_spacing(self, text: str) -> None:
        if any(c.isspace() for c in _STRING.sub("", text)):
            self.keep(lambda v: False, "the JSON has spaces between its parts: every known "
                      "generator writes it compact")  # fmt: skip

    def check_key_order(self, order: tuple[str, ...]) -> None:
        known = _ORDER_NAMES.get(order)
        listed = ",".join(order)
        if known is None:
            hint = ""
            if "payload" not in order:
                hint = " (no payload key: ZEGO's web UIKit generateKitTokenForTest writes this)"
            self.keep(lambda v: False, f"key order {listed}: no known generator's{hint}")
            return
        self.keep(lambda v: v.key_order == order, f"key order {listed}: {known}")

    def check_nonce(self, nonce: int) -> None:
        fits = [v for v in self.variants if v.nonces[0] <= nonce <= v.nonces[1]]
        if len(fits) == len(self.variants):
            return
        if nonce < 0:
            what = f"integer nonce {nonce} is negative: only {_who(fits)} draw signed nonces"
        else:
            dropped = _who(v for v in self.variants if v not in fits)
            what = f"integer nonce {nonce} is outside the range {dropped} draws from"
        self.keep(lambda v: v in fits, what)

    def check_escaping(self, text: str) -> None:
        escaped, literal = _written_characters(text)
        # '"', '\' and control characters are escaped by all, so they tell nothing.
        escaped = {c for c in escaped if c not in '"\\' and c >= " "}
        # Only characters some generator escapes tell anything when written as themselves.
        literal = {c for c in literal if any(v.escapes(c) for v in _VARIANTS)}
        if not escaped and not literal:
            return
        fits = [
            v
            for v in self.variants
            if all(v.escapes(c) for c in escaped) and not any(v.escapes(c) for c in literal)
        ]
        if len(fits) == len(self.variants):
            return
        parts = []
        if escaped:
            parts.append(f"escapes {_show(escaped)}")
        if literal:
            parts.append(f"writes {_show(literal)} as is")
        who = _who(fits) if fits else "no known generator escapes this way"
        self.keep(lambda v: v in fits, f"the JSON {' and '.join(parts)}: {who}")

    def check_cpp(self, ctime: int) -> None:
        # The generator calls time() again to seed: a second may tick over in between.
        if _cpp_seed(self.iv, (ctime, ctime + 1)) is not None:
            self.predictable = True
            self.keep(
                lambda v: v.generator == "cpp",
                f"the {self.iv_name} is exactly the first {len(self.iv)} rand() values after "
                f"srand(ctime): C++'s generator; this nonce is predictable from the token's own "
                "ctime, and repeats for every token it mints within the same second",
            )
        else:
            self.keep(
                lambda v: v.generator != "cpp",
                f"the {self.iv_name} is not what srand(ctime) and rand() give: not C++",
            )

    def result(self, *, from_claims: bool) -> Fingerprint:
        candidates = self.generators()
        weak = bool(self.variants) and all(v.randomness != "csprng" for v in self.variants)
        if weak:
            sources = sorted({v.source for v in self.variants})
            self.evidence.append(
                f"the {self.iv_name} comes from {' or '.join(sources)}: not a cryptographic "
                "random generator"
            )
        return Fingerprint(
            mode=self.mode,
            candidates=candidates,
            evidence=tuple(self.evidence),
            weak_randomness=weak,
            predictable=self.predictable,
            from_claims=from_claims,
        )


def _cpp_seed(iv: bytes, seeds: Iterable[int]) -> int | None:
    for seed in seeds:
        if cpp_nonce_and_iv(seed, len(iv))[1] == iv:
            return seed
    return None


def _generators(variants: Iterable[_Variant]) -> tuple[Generator, ...]:
    present = {v.generator for v in variants}
    return tuple(g for g in GENERATORS if g in present)


def _who(variants: Iterable[_Variant]) -> str:
    names = [NAMES[g] for g in _generators(variants)]
    if not names:
        return "no known generator"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _show(characters: set[str]) -> str:
    return " ".join(json.dumps(c, ensure_ascii=True)[1:-1] for c in sorted(characters))


def _written_characters(text: str) -> tuple[set[str], set[str]]:
    """The characters the JSON's strings write as escapes, and those written as themselves."""
    escaped: set[str] = set()
    literal: set[str] = set()
    for match in _STRING.finditer(text):
        body = match.group(1)
        i = 0
        while i < len(body):
            c = body[i]
            if c != "\\":
                literal.add(c)
                i += 1
                continue
            kind = body[i + 1]
            if kind == "u":
                escaped.add(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
            else:
                escaped.add(_SHORT_ESCAPES.get(kind, kind))
                i += 2
    return escaped, literal


__all__ = [
    "COMMON_TTLS",
    "GENERATORS",
    "NAMES",
    "Fingerprint",
    "Generator",
    "describe",
    "fingerprint",
    "fingerprint_claims",
    "fingerprint_header",
    "iv_alphabet",
]
