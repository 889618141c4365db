"""Shareable links to a result: numbers and codes only, signed, never the radiograph.

A parent sends the link to a doctor; whoever opens it sees the result card and the growth chart
recomputed from the numbers in the link. The link carries the bone age, its interval, the age
and sex, the model's name, version and validation error, the date and the language, and the
heights where they were given (the child's and the parents', in cm, and the unit they were
typed in): no image, no file reference, nothing else about the child.

The payload is signed with HMAC-SHA256 under a server secret (``BONEAGE_SHARE_SECRET``; where it
is not set, a random secret kept in the user's cache folder), so a changed number makes the
link invalid instead of making the page claim a result the model never gave. Links made by an
older model still open, and say which model made them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from boneage.errors import InvalidInputError
from boneage.io.inputs import Height, HeightInputs
from boneage.meaning.adult_height import HeightAssessment, assess_height

SECRET_ENV = "BONEAGE_SHARE_SECRET"
SECRET_FILE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "boneage" / "share-secret"
QUERY_KEY = "result"
FORMAT_VERSION = 1
MAX_TOKEN_CHARS = 600  # a real token is about 250 characters
SIGNATURE_BYTES = 16


class InvalidShareLinkError(InvalidInputError):
    """A shared link that is damaged, truncated, too long or changed since it was made."""

    codes = ("share_link_damaged", "share_link_unverified")


@dataclass(frozen=True)
class SharedResult:
    """What a shared link holds: numbers and codes, no image."""

    bone_age_months: float
    chronological_age_months: float
    sex: str  # "female" or "male"
    interval_months: tuple[float, float] | None
    interval_level: float | None
    model_name: str
    model_version: str
    model_error_months: float | None  # the model's validation MAE, for the sentence
    created: str  # ISO date
    lang: str
    heights_cm: tuple[float | None, float | None, float | None] | None = None  # child, mother, father
    height_unit: str = "cm"  # how they were typed: "cm" or "ft_in"

    @classmethod
    def from_analysis(cls, analysis, lang: str, today: date | None = None) -> SharedResult:
        """The shareable numbers of a result (``boneage.predictor.Analysis``) with a bone age."""
        interval = analysis.interval_dict()
        return cls(
            bone_age_months=round(float(analysis.bone_age_months), 1),
            chronological_age_months=round(float(analysis.chronological_age_months), 1),
            sex=analysis.sex,
            interval_months=(interval["low_months"], interval["high_months"]) if interval else None,
            interval_level=interval["level"] if interval else None,
            model_name=analysis.model.name,
            model_version=analysis.model.version,
            model_error_months=analysis.model.validation_mae_months,
            created=(today or date.today()).isoformat(),
            lang=lang,
            heights_cm=_heights_of(analysis.height),
            height_unit=analysis.height.inputs.unit if analysis.height else "cm",
        )

    def height_assessment(self) -> HeightAssessment | None:
        """The height part, recomputed from the link's numbers (None when it carries no height)."""
        if self.heights_cm is None:
            return None
        heights = HeightInputs(
            *(Height(cm, self.height_unit, "") if cm is not None else None for cm in self.heights_cm)
        )
        return assess_height(
            heights, self.sex, self.chronological_age_months, self.bone_age_months, self.interval_months,
            self.interval_level or 0.9,
        )  # fmt: skip


def _heights_of(height: HeightAssessment | None) -> tuple | None:
    if height is None:
        return None
    people = (height.inputs.child, height.inputs.mother, height.inputs.father)
    return tuple(round(p.cm, 1) if p is not None else None for p in people)


def share_secret() -> bytes:
    """The server's signing secret: the environment's, else one made once and kept on disk."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    try:
        return SECRET_FILE.read_bytes()
    except OSError:
        pass
    secret = secrets.token_bytes(32)
    try:
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.write_bytes(secret)
        SECRET_FILE.chmod(0o600)
    except OSError:  # read-only home: links then last as long as this process
        pass
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def encode(result: SharedResult, secret: bytes) -> str:
    """A URL-safe token: the compact JSON of ``result`` and its signature."""
    values = {
        "v": FORMAT_VERSION,
        "b": result.bone_age_months,
        "a": result.chronological_age_months,
        "s": result.sex[0],
        "i": list(result.interval_months) if result.interval_months else None,
        "l": result.interval_level,
        "m": result.model_name,
        "mv": result.model_version,
        "e": result.model_error_months,
        "d": result.created,
        "g": result.lang,
    }
    if result.heights_cm is not None:  # links without heights stay as they were
        values["h"] = list(result.heights_cm)
        values["hu"] = result.height_unit
    payload = json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode()
    return f"{_b64(payload)}.{_b64(_sign(payload, secret))}"


def decode(token: str, secret: bytes) -> SharedResult:
    """The result a token holds, if it is whole and was signed with ``secret``.

    Raises:
        InvalidShareLinkError: too long, malformed, truncated, or changed since it was signed.
    """
    damaged = InvalidShareLinkError("share_link_damaged")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise damaged
    try:
        payload_text, signature_text = token.strip().split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (ValueError, binascii.Error):
        raise damaged from None
    if len(signature) != SIGNATURE_BYTES:  # cut off at the end
        raise damaged
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        raise InvalidShareLinkError("share_link_unverified")
    try:
        values = json.loads(payload)
        result = SharedResult(
            bone_age_months=_number(values["b"], 0, 240),
            chronological_age_months=_number(values["a"], 0, 240),
            sex={"f": "female", "m": "male"}[values["s"]],
            interval_months=tuple(_number(v, 0, 240) for v in values["i"]) if values.get("i") else None,
            interval_level=_number(values["l"], 0, 1) if values.get("l") is not None else None,
            model_name=str(values["m"]),
            model_version=str(values["mv"]),
            model_error_months=_number(values["e"], 0, 240) if values.get("e") is not None else None,
            created=date.fromisoformat(values["d"]).isoformat(),
            lang=str(values["g"]),
            heights_cm=_heights(values.get("h")),
            height_unit="ft_in" if values.get("hu") == "ft_in" else "cm",
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise damaged from None
    return result


def _heights(values) -> tuple | None:
    """A link's heights: three numbers or nulls, each within any human height."""
    if values is None:
        return None
    if len(values) != 3:
        raise ValueError("three heights")
    return tuple(None if v is None else _number(v, 20, 300) for v in values)


def _number(value, low: float, high: float) -> float:
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{value!r} outside {low}..{high}")
    return number


def share_url(base_url: str, token: str) -> str:
    """The page's address with the token as its only query parameter."""
    return f"{base_url.rstrip('/')}/?{QUERY_KEY}={token}"


def public_base_url(headers: dict[str, str], environ: dict[str, str] | None = None) -> str:
    """Where people reach this app: the Space's public host on Hugging Face, else the request's.

    Spaces serve the app behind a proxy at ``https://<SPACE_HOST>``, which differs from the
    address the app listens on; elsewhere the request's forwarded or plain Host header is used.
    """
    environ = os.environ if environ is None else environ
    headers = {k.lower(): v for k, v in headers.items()}
    if environ.get("SPACE_HOST"):
        return f"https://{environ['SPACE_HOST']}"
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost:7860"
    scheme = headers.get("x-forwarded-proto") or "http"
    return f"{scheme.split(',')[0].strip()}://{host.split(',')[0].strip()}"


def to_dict(result: SharedResult) -> dict:
    return asdict(result)
