"""Fonts for PDF and charts: Noto Sans regular and bold, cut from the packaged variable font.

The variable font of `fontpkg-noto-sans` is reduced to Latin (with the extensions used in
factory names) and instanced at weights 400 and 700 once, then kept in the user's cache
folder. Without the package, matplotlib's DejaVu Sans is used.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

FAMILY = "WageCheck Sans"
# Basic Latin, Latin-1, Latin Extended-A, general punctuation, currency, arrows, math signs.
_UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    *range(0x2000, 0x2070),
    *range(0x20A0, 0x20C0),
    0x2190,
    0x2192,
    0x2212,
    0x2248,
    0x2264,
    0x2265,
    0x2713,
    0x25CF,
    0x25A0,
]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wagecheck" / "fonts"


def _noto(target: Path) -> tuple[Path, Path] | None:
    try:  # optional: fontTools comes with matplotlib; without it, DejaVu Sans is used
        import fontpkg_noto_sans
        from fontTools import subset
        from fontTools.ttLib import TTFont as FontFile
        from fontTools.varLib.instancer import instantiateVariableFont
    except ImportError:
        return None
    regular, bold = target / "NotoSans-Regular-latin.ttf", target / "NotoSans-Bold-latin.ttf"
    if regular.exists() and bold.exists():
        return regular, bold
    source = Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans[wdth,wght].ttf"
    if not source.exists():
        return None
    target.mkdir(parents=True, exist_ok=True)
    font = FontFile(source)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=_UNICODES)
    cutter.subset(font)
    for path, weight in ((regular, 400), (bold, 700)):
        instance = instantiateVariableFont(font, {"wght": weight, "wdth": 100}, inplace=False)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        instance.save(partial)
        partial.replace(path)  # atomic: two processes may do this at once
    return regular, bold


def _dejavu() -> tuple[Path, Path]:
    import matplotlib  # here, not at the top: 0.4 s, needed only when a chart or PDF is made

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return fonts / "DejaVuSans.ttf", fonts / "DejaVuSans-Bold.ttf"


@lru_cache(maxsize=1)
def font_files() -> tuple[Path, Path]:
    """(regular, bold) TrueType files for reports."""
    try:
        found = _noto(_cache_dir())
    except Exception:  # a broken cache or font package must not stop a report
        log.warning("Noto Sans could not be prepared; using DejaVu Sans", exc_info=True)
        found = None
    return found or _dejavu()


@lru_cache(maxsize=1)
def register_pdf_fonts() -> tuple[str, str]:
    """Register the fonts with reportlab; returns the (regular, bold) font names."""
    regular, bold = font_files()
    pdfmetrics.registerFont(TTFont(FAMILY, str(regular)))
    pdfmetrics.registerFont(TTFont(f"{FAMILY} Bold", str(bold)))
    addMapping(FAMILY, 0, 0, FAMILY)
    addMapping(FAMILY, 1, 0, f"{FAMILY} Bold")
    addMapping(FAMILY, 0, 1, FAMILY)
    addMapping(FAMILY, 1, 1, f"{FAMILY} Bold")
    return FAMILY, f"{FAMILY} Bold"


@lru_cache(maxsize=1)
def chart_font_family() -> str:
    """Register the fonts with matplotlib; returns the family name to use."""
    from matplotlib import font_manager  # 0.4 s: only when a chart is drawn

    regular, bold = font_files()
    for path in (regular, bold):
        font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(regular)).get_name()
