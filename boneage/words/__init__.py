"""Every word a person reads, in each language: the one place that turns codes into sentences.

The rest of the library returns numbers and codes: an error carries ``code`` and ``params``
(:mod:`boneage.errors`), an interpretation its category and flags
(:class:`boneage.meaning.reference.Interpretation`). This package holds one catalogue per
language (``en``, ``zh_tw``) and the functions that format them. Adding a language is adding a
catalogue with every key of :mod:`boneage.words.en` and naming it in :data:`CATALOGUES`; a test
walks every key, error class and code in each.

Imports nothing from the rest of ``boneage``, so every part may use it.
"""

from __future__ import annotations

import re

from boneage.words.en import MESSAGES as ENGLISH
from boneage.words.zh_tw import MESSAGES as CHINESE

LANGUAGES = ("en", "zh-TW")
LANGUAGE_NAMES = {"en": "English", "zh-TW": "繁體中文"}
CATALOGUES: dict[str, dict[str, str]] = {"en": ENGLISH, "zh-TW": CHINESE}
# Sentences of one language are joined with a space, except where the script has none.
_JOINERS = {"zh-TW": ""}
# Gradio's own zh-TW texts around our components (upload box, buttons), for the webfont subset.
GRADIO_UI_TEXT = "將檔案拖放至此處或點擊上傳清除提交取消載入中錯誤複製下載全螢幕分享透過使用建構設定"


def normalise_language(value: str | None) -> str:
    """'zh-TW', 'zh-Hant-TW', 'zh-HK', 'zh' ... -> 'zh-TW'; anything else -> 'en'."""
    code = (value or "").strip().split(",")[0].split(";")[0].lower()
    return "zh-TW" if code.startswith("zh") else "en"


def t(key: str, lang: str = "en", **values) -> str:
    """The message ``key`` in ``lang`` (English when the language is unknown), formatted."""
    catalog = CATALOGUES.get(lang, ENGLISH)
    return catalog.get(key, ENGLISH[key]).format(**values)


def join(sentences: list[str], lang: str) -> str:
    return _JOINERS.get(lang, " ").join(sentences)


def error_title(error: BaseException, lang: str = "en") -> str:
    """The heading of an error: the nearest class in its ancestry that the catalogue names."""
    for cls in type(error).__mro__:
        if f"title_{cls.__name__}" in ENGLISH:
            return t(f"title_{cls.__name__}", lang)
    return t("title_BoneAgeError", lang)


def error_message(error: BaseException, lang: str = "en") -> str:
    """The sentence for an error's code, its params filled in; a coded error's only words."""
    code = getattr(error, "code", None)
    if code is None or f"error_{code}" not in ENGLISH:
        return t("error_unexpected", lang)
    return t(f"error_{code}", lang, **getattr(error, "params", {}))


def format_duration(months: float, lang: str = "en") -> str:
    """47.4 -> '3 years 11 months' / '3 歲 11 個月'; 5 -> '5 months'; 24 -> '2 years'."""
    total = int(round(abs(months)))
    years, rest = divmod(total, 12)
    parts = []
    if years:
        parts.append(f"{years} {t('year' if years == 1 else 'years', lang)}")
    if rest or not years:
        parts.append(f"{rest} {t('month' if rest == 1 else 'months', lang)}")
    return ("-" if months < 0 and total else "") + " ".join(parts)


def format_difference(gap_months: float, lang: str = "en") -> str:
    """Bone age minus age, signed: '+4 months', '−1 month', '−15 months (−1 year 3 months)'.

    Years and months are added only from a year on; below it they would repeat the number.
    """
    sign = "+" if gap_months >= 0 else "−"
    months = round(abs(gap_months))
    text = f"{sign}{months} {t('month' if months == 1 else 'months', lang)}"
    if months >= 12:
        text += f" ({sign}{format_duration(abs(gap_months), lang)})"
    return text


def explain_gap(meaning, lang: str = "en") -> str:
    """The plain sentences for an :class:`~boneage.meaning.reference.Interpretation`."""
    children = t("boys" if meaning.sex == "male" else "girls", lang)
    gap = meaning.gap_months
    if abs(gap) < 0.5:
        text = [t("matches", lang)]
    else:
        text = [t("ahead" if gap > 0 else "behind", lang, size=format_duration(abs(gap), lang))]
    span = format_duration(2 * meaning.reference_sd_months, lang)
    if meaning.category == "normal":
        text.append(t("normal_body", lang, children=children, range=span))
    elif meaning.category == "uncertain":
        level = round(100 * meaning.interval_level)
        word = t(f"word_{meaning.leaning}", lang)
        text.append(t("uncertain_body", lang, level=level, children=children, range=span, word=word))
    else:
        word = t(f"word_{meaning.category}", lang)
        text.append(t("outside_body", lang, children=children, range=span, word=word))
    if meaning.within_model_error:
        # To the tenth, as the result card gives it: "±6.7 months" in both places, not ±7 beside ±6.7.
        error = f"{meaning.model_error_months:.1f} {t('months', lang)}"
        text.append(t("within_error", lang, error=error))
    if meaning.check_inputs:
        text.append(t("check_inputs", lang, sd=meaning.check_inputs_sd))
    return join(text, lang)


SECOND_LOOK_KINDS = ("field", "margin")  # cautions for a hand found only on a second look


def explain_quality(verdict, hand_px: int | None, lang: str = "en") -> str | None:
    """The caution for an upload answered with one (:class:`boneage.meaning.quality.QualityVerdict`),
    or None when it was answered as it is."""
    if verdict.outcome != "caution":
        return None
    sentence = t(
        f"caution_{verdict.kind}",
        lang,
        extra=f"{verdict.extra_error_months:.1f}"
        if verdict.kind in SECOND_LOOK_KINDS
        else f"{verdict.extra_error_months:.0f}",
        shift=f"{verdict.shift_p90_months:.0f}",
        side=hand_px,
    )
    if verdict.kind in SECOND_LOOK_KINDS:  # not the file's fault: the film's own frame or crop
        return sentence
    return join([sentence, t("caution_original", lang)], lang)


def format_height(cm: float, unit: str, lang: str = "en") -> str:
    """132.08 -> '132.1 cm'; in feet and inches '4 ft 4 in (132.1 cm)', the cm kept beside."""
    metric = f"{cm:.1f} {t('cm_short', lang)}"
    if unit != "ft_in":
        return metric
    total = round(cm / 2.54)
    feet, inches = divmod(total, 12)
    return f"{t('feet_inches', lang, feet=feet, inches=inches)} ({metric})"


def height_rows(height, lang: str = "en") -> list[tuple[str, str]]:
    """(label, value) rows of the height part of a result
    (:class:`~boneage.meaning.adult_height.HeightAssessment`), for the card and the PDF."""
    unit = height.inputs.unit
    rows: list[tuple[str, str]] = []
    if height.inputs.child is not None:
        centile = t(
            "height_centile", lang, centile=_ordinal(height.centile, lang), sds=f"{height.sds:+.1f}",
            reference=height.reference,
        )  # fmt: skip
        rows.append(
            (t("height_today", lang), f"{format_height(height.inputs.child.cm, unit, lang)}: {centile}")
        )
    if (target := height.target) is not None:
        value = t(
            "target_value", lang, cm=format_height(target.cm, unit, lang),
            low=format_height(target.low_cm, unit, lang), high=format_height(target.high_cm, unit, lang),
        )  # fmt: skip
        rows.append((t("parents_target", lang), value))
    if (prediction := height.prediction) is not None:
        value = t(
            "predicted_value", lang, cm=format_height(prediction.cm, unit, lang), level=round(100 * prediction.level),
            low=format_height(prediction.low_cm, unit, lang), high=format_height(prediction.high_cm, unit, lang),
        )  # fmt: skip
        rows.append((t("predicted_adult", lang), value))
    return rows


def explain_height(height, lang: str = "en") -> str:
    """The sentences under the height rows: how the prediction was made and what it is worth, or
    why there is none."""
    prediction = height.prediction
    if prediction is None:
        return t(f"no_prediction_{height.no_prediction}", lang) if height.no_prediction else ""
    maturity = t(f"maturity_{prediction.maturity}", lang)
    sentences = [
        t("prediction_method", lang, maturity=maturity, percent=f"{prediction.percent_of_adult:.1f}")
    ]
    if height.versus_target:
        sentences.append(t(f"versus_{height.versus_target}", lang))
    sentences.append(t("height_caveat", lang))
    return join(sentences, lang)


def _ordinal(centile: float, lang: str) -> str:
    """23.4 -> '23rd' (English) / '23' (the Chinese sentence says 第 … 百分位); <1 and >99 say so."""
    if centile < 1:
        return "<1" if lang != "en" else "below the 1st"
    if centile > 99:
        return ">99" if lang != "en" else "above the 99th"
    n = int(round(centile))
    if lang != "en":
        return str(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def all_characters(lang: str) -> set[str]:
    """Every character the ``lang`` catalogue can print (for the font subset)."""
    text = "".join(CATALOGUES[lang].values()) + "".join(LANGUAGE_NAMES.values()) + GRADIO_UI_TEXT
    return set(re.sub(r"\{[a-z_]+(![a-z])?\}", "", text))
