"""Make the small Traditional Chinese font the charts and the PDF report use.

Noto Sans CJK TC is 16 MB per weight; the report only ever prints the characters of the
zh-TW catalogue (:mod:`boneage.words`) plus ASCII, so a subset of a few hundred glyphs ships
instead (SIL Open Font License 1.1, ``boneage/meaning/fonts/OFL.txt``). Its outlines are converted to
TrueType quadratics, which every matplotlib backend (Agg and PDF) embeds. Re-run after changing
the catalog (a test fails when a character is missing):

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb cjk
    python -m boneage.cli.fonts cjk/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

from boneage.meaning.typeface import CJK_FONT_FILE
from boneage.words import all_characters

TC_INDEX = 3  # "Noto Sans CJK TC" inside NotoSansCJK-Regular.ttc


def subset_characters() -> str:
    return "".join(
        sorted(all_characters("zh-TW") | set(string.printable.strip()) | {" ", "±", "−", "–", "°", "—", "·"})
    )


def build(collection: Path, out: Path = CJK_FONT_FILE) -> Path:
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTCollection, newTable

    font = TTCollection(str(collection)).fonts[TC_INDEX]
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=subset_characters())
    subsetter.subset(font)
    # CFF cubic outlines -> TrueType quadratic glyphs.
    glyph_set = font.getGlyphSet()
    glyf, order = newTable("glyf"), font.getGlyphOrder()
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    font["maxp"].tableVersion = 0x00010000
    for attribute in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                      "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):  # fmt: skip
        setattr(font["maxp"], attribute, 0)
    font["maxp"].maxZones = 1
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("collection", type=Path, help="NotoSansCJK-Regular.ttc")
    parser.add_argument("--out", type=Path, default=CJK_FONT_FILE)
    args = parser.parse_args(argv)
    path = build(args.collection, args.out)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB, {len(subset_characters())} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
