"""Every error class and every message code has words in every language, and nothing else does."""

from __future__ import annotations

import importlib
import pkgutil
import string

import pytest

import boneage
from boneage.errors import BoneAgeError, NotAHandRadiographError, SetupError
from boneage.words import CATALOGUES, LANGUAGES, error_message, error_title


def _all_error_classes() -> list[type[BoneAgeError]]:
    """Every BoneAgeError subclass in the package (importing each module so none is missed)."""
    for module in pkgutil.walk_packages(boneage.__path__, "boneage."):
        importlib.import_module(module.name)
    found, todo = [], [BoneAgeError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _example(cls: type[BoneAgeError], code: str) -> BoneAgeError:
    """An instance with a number for every brace its English sentence has."""
    return cls(code, **{name: 7 for name in _placeholders(CATALOGUES["en"][f"error_{code}"])})


CODED = [(cls, code) for cls in _all_error_classes() for code in cls.codes]


def test_the_walk_finds_the_errors_a_person_meets():
    names = {cls.__name__ for cls, _ in CODED}
    assert {"InvalidImageError", "NotAHandRadiographError", "WristMissingError", "InvalidAgeError"} <= names
    assert {"NoImage", "ModelUnavailable", "InvalidShareLinkError"} <= names  # web and report have theirs
    assert len(CODED) >= 35


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("cls, code", CODED, ids=lambda value: getattr(value, "__name__", value))
def test_every_code_has_a_sentence_and_a_heading_in_every_language(cls, code, lang):
    error = _example(cls, code)
    message, title = error_message(error, lang), error_title(error, lang)
    assert message and "{" not in message
    if _placeholders(CATALOGUES["en"][f"error_{code}"]):
        assert "7" in message, "the numbers reach the sentence"
    assert title != error_title(BoneAgeError.__new__(BoneAgeError), lang) or cls is BoneAgeError
    if lang != "en":
        assert message != error_message(error, "en"), code  # translated, not copied
        assert title != error_title(error, "en"), cls.__name__


def test_every_sentence_in_the_catalogue_is_raised_or_shown():
    """No orphans: an ``error_`` key is a code some class raises, or a message the web shows."""
    codes = {code for _, code in CODED}
    shown_by_the_web = {"no_model", "unexpected"}
    keys = {key.removeprefix("error_") for key in CATALOGUES["en"] if key.startswith("error_")}
    assert keys - codes == shown_by_the_web


def test_an_error_is_typed_its_words_come_from_the_catalogue():
    error = NotAHandRadiographError("two_hands", ratio=0.52)
    assert error.code == "two_hands" and error.params == {"ratio": 0.52}
    assert str(error) == CATALOGUES["en"]["error_two_hands"]
    with pytest.raises(ValueError, match="no message code"):
        NotAHandRadiographError("This image seems to show more than one hand.")


def test_setup_errors_carry_their_english_detail():
    from boneage.errors import WeightsIntegrityError

    error = WeightsIntegrityError("weights/x.safetensors does not match its manifest")
    assert isinstance(error, SetupError) and str(error) == "weights/x.safetensors does not match its manifest"
