"""Shared links: numbers only, signed; tampered, cut or oversized links get a plain message."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date

import pytest

from boneage.predictor import ModelInfo
from boneage.report.card import shared_markdown
from boneage.report.share import (
    MAX_TOKEN_CHARS,
    InvalidShareLinkError,
    SharedResult,
    decode,
    encode,
    public_base_url,
    share_secret,
    share_url,
)
from boneage.words import t

SECRET = b"test secret"
RESULT = SharedResult(
    bone_age_months=149.2,
    chronological_age_months=126.0,
    sex="female",
    interval_months=(137.0, 161.4),
    interval_level=0.9,
    model_name="bone-age-lite0-256",
    model_version="2.0.0",
    model_error_months=6.4,
    created="2026-11-26",
    lang="zh-TW",
)


def test_a_link_round_trips_its_numbers():
    token = encode(RESULT, SECRET)
    assert decode(token, SECRET) == RESULT
    assert len(token) < 300 and token.isascii()
    without_interval = replace(RESULT, interval_months=None, interval_level=None)
    assert decode(encode(without_interval, SECRET), SECRET) == without_interval


def test_a_link_holds_numbers_and_codes_only():
    """No image, no file name, no path: the payload is a handful of short keys."""
    token = encode(RESULT, SECRET)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert set(payload) == {"v", "b", "a", "s", "i", "l", "m", "mv", "e", "d", "g"}
    assert all(isinstance(v, int | float | str | list) or v is None for v in payload.values())
    assert not any(isinstance(v, str) and len(v) > 40 for v in payload.values())
    assert "/" not in json.dumps(payload) and ".png" not in token


@pytest.mark.parametrize(
    "change",
    [
        lambda token: token.replace(token[5], "A" if token[5] != "A" else "B", 1),  # payload edited
        lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),  # signature edited
    ],
)
def test_a_changed_link_is_refused(change):
    with pytest.raises(InvalidShareLinkError, match="cannot be verified|damaged"):
        decode(change(encode(RESULT, SECRET)), SECRET)


def test_a_link_with_forged_numbers_is_refused():
    """Re-encoding other numbers without the server's secret gives no valid link."""
    forged = encode(replace(RESULT, bone_age_months=60.0), b"not the server's secret")
    with pytest.raises(InvalidShareLinkError, match="cannot be verified"):
        decode(forged, SECRET)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "%%%.%%%", "x" * (MAX_TOKEN_CHARS + 1), None, 42],
    ids=["empty", "no-dot", "two-dots", "not-base64", "oversized", "none", "number"],
)
def test_bad_links_get_a_friendly_message(token):
    with pytest.raises(InvalidShareLinkError) as caught:
        decode(token, SECRET)
    assert "link" in str(caught.value) and "Traceback" not in str(caught.value)


def test_a_truncated_link_is_refused_as_incomplete():
    token = encode(RESULT, SECRET)
    for cut in (len(token) // 2, len(token) - 1, len(token) - 20):
        with pytest.raises(InvalidShareLinkError, match="damaged or incomplete"):
            decode(token[:cut], SECRET)


def test_signed_nonsense_is_still_refused():
    """A correctly signed payload with impossible numbers (a bug, an old format) is not shown."""
    import hashlib
    import hmac

    payload = json.dumps({"v": 1, "b": 999, "a": 10, "s": "f"}).encode()
    signature = hmac.new(SECRET, payload, hashlib.sha256).digest()[:16]
    token = base64.urlsafe_b64encode(payload).decode().rstrip("=") + "."
    token += base64.urlsafe_b64encode(signature).decode().rstrip("=")
    with pytest.raises(InvalidShareLinkError, match="damaged"):
        decode(token, SECRET)


def test_the_secret_comes_from_the_environment_or_stays_the_same(monkeypatch, tmp_path):
    monkeypatch.setenv("BONEAGE_SHARE_SECRET", "from the space's secrets")
    assert share_secret() == b"from the space's secrets"
    monkeypatch.delenv("BONEAGE_SHARE_SECRET")
    monkeypatch.setattr("boneage.report.share.SECRET_FILE", tmp_path / "secret")
    first = share_secret()
    assert len(first) == 32 and share_secret() == first  # links survive a restart


def test_public_url_on_spaces_and_behind_a_proxy():
    assert public_base_url({"host": "127.0.0.1:7860"}, {}) == "http://127.0.0.1:7860"
    proxied = {"Host": "10.0.0.5:7860", "X-Forwarded-Host": "bone.example.org", "X-Forwarded-Proto": "https"}
    assert public_base_url(proxied, {}) == "https://bone.example.org"
    assert public_base_url({"host": "10.0.0.5"}, {"SPACE_HOST": "me-bone-age.hf.space"}) == (
        "https://me-bone-age.hf.space"
    )
    assert share_url("https://x.hf.space/", "TOKEN") == "https://x.hf.space/?result=TOKEN"


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_shared_card_is_marked_and_names_its_model(lang):
    serving = ModelInfo("bone-age-lite0-384", "3.0.0", "efficientnet-lite0-sex", "local", 5.0, "RSNA")
    card = shared_markdown(RESULT, lang, serving)
    assert t("shared_banner", lang, date="2026-11-26") in card
    assert "149" in card and "137" in card and "161" in card and "126" in card
    assert "bone-age-lite0-256 v2.0.0" in card and "bone-age-lite0-384 v3.0.0" in card
    same = ModelInfo("bone-age-lite0-256", "2.0.0", "efficientnet-lite0-sex", "local", 6.4, "RSNA")
    assert "3.0.0" not in shared_markdown(RESULT, lang, same)


def test_the_shared_date_is_the_day_it_was_made():
    from types import SimpleNamespace

    analysis = SimpleNamespace(
        bone_age_months=100.04,
        chronological_age_months=98,
        sex="male",
        interval_dict=lambda: None,
        model=SimpleNamespace(name="m", version="1", validation_mae_months=7.0),
        height=None,
    )
    shared = SharedResult.from_analysis(analysis, "en", today=date(2026, 1, 2))
    assert shared.created == "2026-01-02" and shared.bone_age_months == 100.0
    assert decode(encode(shared, SECRET), SECRET) == shared


def test_a_link_carries_the_heights_as_numbers_and_recomputes_the_prediction():
    """With heights the link holds three numbers and a unit, nothing more, and the page rebuilds
    the height part from them; a link without heights has no height part, as links always had."""
    from types import SimpleNamespace

    from boneage.io.inputs import parse_heights
    from boneage.meaning.adult_height import assess_height

    height = assess_height(parse_heights("4 ft 7 in", "5 ft 5 in", "71 in"), "male", 132, 130, (120, 141))
    analysis = SimpleNamespace(
        bone_age_months=130.0, chronological_age_months=132, sex="male",
        interval_dict=lambda: {"low_months": 120.0, "high_months": 141.0, "level": 0.9},
        model=SimpleNamespace(name="m", version="1", validation_mae_months=6.2), height=height,
    )  # fmt: skip
    token = encode(SharedResult.from_analysis(analysis, "en"), SECRET)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert payload["h"] == [139.7, 165.1, 180.3] and payload["hu"] == "ft_in"
    opened = decode(token, SECRET).height_assessment()
    assert opened.prediction.cm == pytest.approx(height.prediction.cm, abs=0.1)
    assert opened.inputs.unit == "ft_in" and opened.target.cm == pytest.approx(height.target.cm, abs=0.1)
    analysis.height = None
    assert (
        decode(encode(SharedResult.from_analysis(analysis, "en"), SECRET), SECRET).height_assessment() is None
    )
