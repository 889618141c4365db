"""The Chinese typeface that charts and the PDF draw with.

A subset of Noto Sans CJK TC (SIL Open Font License) ships in ``boneage/meaning/fonts``, made by
``python -m boneage.cli.fonts`` from every character the catalogues can print
(:func:`boneage.words.all_characters`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent / "fonts"
CJK_FONT_FILE = FONT_DIR / "NotoSansTC-subset.ttf"


@cache
def font_family(lang: str) -> list[str]:
    """Font names for matplotlib: DejaVu Sans first, the shipped CJK subset for Chinese glyphs."""
    if lang != "zh-TW" or not CJK_FONT_FILE.is_file():
        return ["DejaVu Sans"]
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(CJK_FONT_FILE))
    name = font_manager.FontProperties(fname=str(CJK_FONT_FILE)).get_name()
    return [name, "DejaVu Sans"]
