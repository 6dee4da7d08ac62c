"""The factory-gate poster: one A4 page per factory and round, with its QR codes and its code.

A CSO prints it on a cheap office printer and hangs it where workers pass. The top half must be
readable from two metres (title, factory, QR codes, code); the lines below are read up close.
Everything is black on white, drawn with Pillow at 300 dpi. Urdu and Sindhi are shaped by
libraqm (joined letters, right to left, bidi isolates around Latin names); without raqm
Pillow would draw isolated letters in the wrong order, so rendering refuses to run without it.

Strings are English msgids marked with N_(); a language whose translation is missing is left
out (its readers see the English lines, which are always there) instead of being printed
twice in English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import fontpkg_noto_sans
import fontpkg_noto_sans_arabic
import qrcode
from PIL import Image, ImageDraw, ImageFont, features
from PIL.PngImagePlugin import PngInfo

from bot.i18n import N_, RTL_LANGUAGES, Catalogs

# ------------------------------------------------------------------------------ the strings
# TRANSLATORS: poster title, printed large at the factory gate. Short and plain.
TITLE = N_("Did you get the legal minimum wage? Tell us — anonymously.")
# TRANSLATORS: poster, printed large in Latin letters; {code} is the poster code (K7M4QP).
CODE_LINE = N_("Code: {code}")
# TRANSLATORS: poster, under the big code.
SEND_CODE = N_("or send this code to the bot")
# TRANSLATORS: poster, first line: what it is.
WHAT = N_("A short survey about your wage: about 3 minutes.")
# TRANSLATORS: poster, second line: that it is anonymous.
ANONYMOUS = N_("Anonymous: we do not ask your name, and your employer never sees your answers.")
# TRANSLATORS: poster, how to start, when the poster has a Telegram and a WhatsApp QR code.
HOW_BOTH = N_(
    "Scan a QR code with your phone camera, or open Telegram or WhatsApp and send the code."
)
# TRANSLATORS: poster, how to start, when the poster has only a Telegram QR code.
HOW_TELEGRAM = N_("Scan the QR code with your phone camera, or open Telegram and send the code.")
# TRANSLATORS: poster, how to start, when the poster has only a WhatsApp QR code.
HOW_WHATSAPP = N_("Scan the QR code with your phone camera, or open WhatsApp and send the code.")
# TRANSLATORS: poster, who runs it; {cso} is the organisation's name as it writes it.
RUN_BY = N_("Run by {cso}.")
# TRANSLATORS: poster, who runs it, when no organisation name is printed.
RUN_BY_UNNAMED = N_("Run by a workers' rights organisation.")

CHANNELS = {"telegram": "Telegram", "whatsapp": "WhatsApp"}
HOW = {
    frozenset({"telegram", "whatsapp"}): HOW_BOTH,
    frozenset({"telegram"}): HOW_TELEGRAM,
    frozenset({"whatsapp"}): HOW_WHATSAPP,
}
POSTER_LANGUAGES = ("ur", "sd", "en")  # top to bottom in every block
FORMATS = ("pdf", "png")

# ------------------------------------------------------------------------------ the page
DPI = 300


def mm(value: float) -> int:
    """Millimetres to pixels at DPI."""
    return round(value * DPI / 25.4)


def pt(value: float) -> int:
    """Typographic points to pixels at DPI."""
    return round(value * DPI / 72)


PAGE_W, PAGE_H = mm(210), mm(297)  # A4: 2480 x 3508 px at 300 dpi
MARGIN = mm(12)  # cheap printers cannot print the outer 4-6 mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_MIN = mm(60)  # the symbol itself, without its quiet zone
RULE = max(2, mm(0.5))
BLACK, WHITE = 0, 255

FONT_DIR_LATIN = Path(fontpkg_noto_sans.ROOT) / "files"
FONT_DIR_ARABIC = Path(fontpkg_noto_sans_arabic.ROOT) / "files"
LATIN_FONT = FONT_DIR_LATIN / "NotoSans[wdth,wght].ttf"
ARABIC_FONT = FONT_DIR_ARABIC / "NotoSansArabic[wdth,wght].ttf"

ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
FSI, PDI = "\u2068", "\u2069"
BIDI_CONTROLS = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Break lines at spaces, but never inside an isolated name.
WORDS = re.compile(r"\S*[\u2066-\u2068][^\u2069]*\u2069\S*|\S+")


@dataclass(frozen=True)
class PosterLink:
    """One way in: a deep link that carries the poster code into the bot."""

    channel: str  # "telegram" | "whatsapp"
    url: str  # https://t.me/<bot>?start=<CODE> or https://wa.me/<number>?text=<CODE>


@dataclass(frozen=True)
class PlacedText:
    """A line as drawn: its language, its text, its ink box on the page (px) and its size."""

    lang: str
    text: str
    box: tuple[int, int, int, int]
    size: int
    rtl: bool


@dataclass(frozen=True)
class PlacedQR:
    channel: str
    url: str
    box: tuple[int, int, int, int]  # the whole image of the code, quiet zone included
    module: int  # px per module


@dataclass
class Poster:
    """The drawn page and what is on it, where (for the PDF's text layer and for tests)."""

    image: Image.Image
    texts: list[PlacedText] = field(default_factory=list)
    qrs: list[PlacedQR] = field(default_factory=list)
    scale: float = 1.0

    @property
    def text(self) -> str:
        return "\n".join(t.text for t in self.texts)


# ------------------------------------------------------------------------------ fonts
def require_raqm() -> None:
    if not features.check("raqm"):
        raise RuntimeError(
            "Pillow has no raqm layout (libraqm with FriBiDi and HarfBuzz); Urdu and Sindhi "
            "would print as separate letters in the wrong order. Install a Pillow wheel "
            "(they bundle it) or libraqm, then try again."
        )


@lru_cache(maxsize=128)
def poster_font(script: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Noto Sans ("latin") or Noto Sans Arabic ("arabic"), laid out by raqm."""
    path = ARABIC_FONT if script == "arabic" else LATIN_FONT
    font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    font.set_variation_by_axes([700 if bold else 400, 100])  # axes: wght, wdth
    return font


def is_rtl_text(text: str) -> bool:
    return bool(ARABIC_LETTER.search(text))


@dataclass(frozen=True)
class _Run:
    """How to draw one piece of text: font, direction and language tag for shaping."""

    font: ImageFont.FreeTypeFont
    rtl: bool
    language: str | None

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"direction": "rtl" if self.rtl else "ltr", "language": self.language}

    def width(self, text: str) -> float:
        return self.font.getlength(text, **self.kwargs)

    def bbox(self, text: str) -> tuple[int, int, int, int]:
        """Ink box relative to the left end of the baseline."""
        return self.font.getbbox(text, anchor="ls", **self.kwargs)  # type: ignore[return-value]


def _run(text: str, lang: str, size: int, bold: bool) -> _Run:
    """Arabic-script text is drawn right to left with the Arabic font, whatever `lang` says
    (a name can be in Urdu on an English line); everything else with Noto Sans."""
    if is_rtl_text(text):
        return _Run(poster_font("arabic", size, bold), True, lang if lang in RTL_LANGUAGES else "ur")
    return _Run(poster_font("latin", size, bold), False, "en")


@lru_cache(maxsize=128)
def _line_extent(script: str, size: int, bold: bool) -> tuple[int, int]:
    """Typical ascent and descent (px) of a line, so that lines sit at an even pitch."""
    if script == "arabic":
        run = _Run(poster_font("arabic", size, bold), True, "ur")
        box = run.bbox("آلطکگ ےیجعںو")
    else:
        run = _Run(poster_font("latin", size, bold), False, "en")
        box = run.bbox("ÀHbdfhkl gjpqy")
    return -box[1], box[3]


# ------------------------------------------------------------------------------ layout
class _Strip:
    """One section of the page, drawn top-down into its own image, then pasted on the page."""

    def __init__(self, width: int = CONTENT_W) -> None:
        self.width = width
        self.image = Image.new("L", (width, PAGE_H), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.y = 0
        self.texts: list[PlacedText] = []
        self.qrs: list[PlacedQR] = []

    def space(self, px: int) -> None:
        self.y += px

    def rule(self, inset: int = 0) -> None:
        self.draw.rectangle((inset, self.y, self.width - 1 - inset, self.y + RULE - 1), BLACK)
        self.y += RULE

    def paragraph(
        self,
        text: str,
        lang: str,
        size: int,
        *,
        bold: bool = False,
        center: bool = False,
        leading: float = 0.22,
        left: int = 0,
        width: int | None = None,
    ) -> None:
        """Wrap `text` to the width and draw it; RTL lines right-aligned, LTR left-aligned."""
        width = self.width - left if width is None else width
        run = _run(text, lang, size, bold)
        asc, desc = _line_extent("arabic" if run.rtl else "latin", size, bold)
        for line in _wrap(text, run, width):
            box = run.bbox(line)
            line_w = run.width(line)
            if center:
                x = left + (width - line_w) / 2
            elif run.rtl:
                x = left + width - line_w
            else:
                x = left
            baseline = self.y + max(asc, -box[1])
            self.draw.text((x, baseline), line, fill=BLACK, font=run.font, anchor="ls", **run.kwargs)
            ink = (round(x + box[0]), baseline + box[1], round(x + box[2]), baseline + box[3])
            self.texts.append(PlacedText(lang, line, ink, size, run.rtl))
            self.y = baseline + max(desc, box[3]) + round(size * leading)
        self.y -= round(size * leading)  # no leading after the last line

    def qr(self, link: PosterLink, size: int, x: int) -> int:
        """Draw a QR code at (x, y) at least `size` px wide; returns its width."""
        image, module = qr_image(link.url, size)
        self.image.paste(image, (x, self.y))
        box = (x, self.y, x + image.width, self.y + image.height)
        self.qrs.append(PlacedQR(link.channel, link.url, box, module))
        return image.width

    def crop(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y))


def _wrap(text: str, run: _Run, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in WORDS.findall(text):
        candidate = f"{current} {word}" if current else word
        if current and run.width(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def qr_image(url: str, size: int) -> tuple[Image.Image, int]:
    """A QR code (error correction Q: a torn or dirty poster still scans) whose symbol is at
    least `size` px and at least QR_MIN, in whole pixels per module; returns (image, module)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=1, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # quiet zone included
    n = len(matrix)
    symbol = n - 2 * qr.border
    module = max(-(-QR_MIN // symbol), round(size / symbol))
    small = Image.new("L", (n, n), WHITE)
    small.putdata([BLACK if dark else WHITE for row in matrix for dark in row])
    return small.resize((n * module, n * module), Image.Resampling.NEAREST), module


# ------------------------------------------------------------------------------ the content
def _texts(
    catalogs: Catalogs, msgid: str, languages: tuple[str, ...] = POSTER_LANGUAGES, **params: str
) -> list[tuple[str, str]]:
    """(lang, text) per poster language; a language without a translation is left out."""
    found = []
    for lang in languages:
        loc = catalogs.get(lang)
        if lang != "en" and (loc.lang != lang or loc.gettext(msgid) == msgid):
            continue
        found.append((lang, loc.gettext(msgid, **params) if params else loc.gettext(msgid)))
    return found


def _name(text: str) -> str:
    """A name (factory, CSO) as given, isolated so it keeps its own direction in any line."""
    clean = " ".join(BIDI_CONTROLS.sub("", text).split())
    return f"{FSI}{clean}{PDI}"


def _title(catalogs: Catalogs, s: float) -> _Strip:
    strip = _Strip()
    for i, (lang, text) in enumerate(_texts(catalogs, TITLE)):
        if i:
            strip.space(round(pt(10) * s))
        big = pt(27 if lang != "en" else 26) * s
        strip.paragraph(text, lang, round(big), bold=True, center=True, leading=0.12)
    return strip


def _factory(factory_name: str, s: float) -> _Strip:
    strip = _Strip()
    strip.rule()
    strip.space(round(pt(12) * s))
    name = " ".join(factory_name.split())
    size = round(pt(34) * s)
    run = _run(name, "ur", size, True)
    while size > pt(16) and len(_wrap(name, run, CONTENT_W)) > 2:
        size = round(size * 0.92)
        run = _run(name, "ur", size, True)
    strip.paragraph(name, "ur" if run.rtl else "en", size, bold=True, center=True, leading=0.1)
    strip.space(round(pt(12) * s))
    strip.rule()
    return strip


def _qr_row(links: list[PosterLink], s: float) -> _Strip:
    strip = _Strip()
    base = mm(72) if len(links) > 1 else mm(90)
    images = [qr_image(link.url, round(base * s))[0].width for link in links]
    gap = mm(14)
    total = sum(images) + gap * (len(links) - 1)
    if total > CONTENT_W:
        raise ValueError("the QR codes do not fit side by side on A4")
    x = (CONTENT_W - total) // 2
    top = strip.y
    bottom = top
    for link, w in zip(links, images, strict=True):
        strip.y = top
        strip.qr(link, round(base * s), x)
        strip.y += w + round(pt(4) * s)
        strip.paragraph(
            CHANNELS.get(link.channel, link.channel), "en", round(pt(24) * s), bold=True,
            center=True, left=x, width=w,
        )
        strip.space(round(pt(4) * s))
        short = re.sub(r"^https?://", "", link.url)
        strip.paragraph(short, "en", round(pt(10) * s), center=True, left=x, width=w)
        bottom = max(bottom, strip.y)
        x += w + gap
    strip.y = bottom
    return strip


def _code_box(catalogs: Catalogs, code: str, s: float) -> _Strip:
    strip = _Strip()
    pad, inset = round(pt(12) * s), mm(8)
    top = strip.y
    strip.space(RULE + pad)
    en = catalogs.get("en")
    strip.paragraph(
        en.gettext(CODE_LINE, code=code), "en", round(pt(44) * s), bold=True, center=True,
        leading=0.1,
    )
    strip.space(round(pt(8) * s))
    for lang, text in _texts(catalogs, SEND_CODE):
        strip.space(round(pt(3) * s))
        strip.paragraph(text, lang, round(pt(17) * s), center=True, leading=0.1)
    strip.space(pad + RULE)
    strip.draw.rounded_rectangle(
        (inset, top, strip.width - 1 - inset, strip.y - 1), radius=mm(4), outline=BLACK,
        width=RULE * 2,
    )
    return strip


def _body(catalogs: Catalogs, channels: frozenset[str], cso_name: str | None, s: float) -> _Strip:
    strip = _Strip()
    sentences: list[tuple[str, dict[str, str]]] = [
        (WHAT, {}),
        (ANONYMOUS, {}),
        (HOW[channels], {}),
        (RUN_BY, {"cso": _name(cso_name)}) if cso_name else (RUN_BY_UNNAMED, {}),
    ]
    per_lang: dict[str, list[str]] = {lang: [] for lang in POSTER_LANGUAGES}
    for msgid, params in sentences:
        for lang, text in _texts(catalogs, msgid, **params):
            per_lang[lang].append(text)
    blocks = [(lang, lines) for lang, lines in per_lang.items() if lines]
    for i, (lang, lines) in enumerate(blocks):
        if i:
            strip.space(round(pt(9) * s))
            strip.rule(inset=CONTENT_W // 3)
            strip.space(round(pt(9) * s))
        for j, line in enumerate(lines):
            if j:
                strip.space(round(pt(4) * s))
            strip.paragraph(line, lang, round(pt(15 if lang != "en" else 14) * s), leading=0.15)
    return strip


def compose_poster(
    *,
    factory_name: str,
    code: str,
    links: list[PosterLink],
    catalogs: Catalogs,
    cso_name: str | None = None,
) -> Poster:
    """Draw the poster page (PIL image, 300 dpi, greyscale) and record what is where."""
    require_raqm()
    _check(factory_name, code, links)
    channels = frozenset(link.channel for link in links)
    scale = 1.0
    while True:
        sections = [
            _title(catalogs, scale),
            _factory(factory_name, scale),
            _qr_row(links, scale),
            _code_box(catalogs, code, scale),
            _body(catalogs, channels, cso_name, scale),
        ]
        used = sum(section.y for section in sections)
        free = PAGE_H - 2 * MARGIN - used
        min_gap = round(pt(14) * scale)
        if free >= min_gap * (len(sections) - 1) or scale < 0.6:
            break
        scale *= 0.94
    if free < min_gap * (len(sections) - 1):
        raise ValueError("the poster's text does not fit on one A4 page; shorten the names")
    gap = min(free // (len(sections) - 1), pt(40))
    y = MARGIN + (free - gap * (len(sections) - 1)) // 2
    page = Image.new("L", (PAGE_W, PAGE_H), WHITE)
    poster = Poster(page, scale=scale)
    for section in sections:
        page.paste(section.crop(), (MARGIN, y))
        poster.texts += [
            PlacedText(t.lang, t.text, _shift(t.box, MARGIN, y), t.size, t.rtl)
            for t in section.texts
        ]
        poster.qrs += [
            PlacedQR(q.channel, q.url, _shift(q.box, MARGIN, y), q.module) for q in section.qrs
        ]
        y += section.y + gap
    return poster


def _shift(box: tuple[int, int, int, int], dx: int, dy: int) -> tuple[int, int, int, int]:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def _check(factory_name: str, code: str, links: list[PosterLink]) -> None:
    if not factory_name.strip():
        raise ValueError("a poster needs the factory's name")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        raise ValueError(f"poster code {code!r} is not a code (letters and digits only)")
    if not 1 <= len(links) <= len(CHANNELS):
        raise ValueError("a poster needs one link per channel: Telegram, WhatsApp or both")
    for link in links:
        if link.channel not in CHANNELS:
            raise ValueError(f"unknown channel {link.channel!r}; use one of {sorted(CHANNELS)}")
        if code not in link.url:
            raise ValueError(f"the {link.channel} link does not carry the poster code {code}")
    if len({link.channel for link in links}) != len(links):
        raise ValueError("two links for the same channel")


# ------------------------------------------------------------------------------ output
def render_poster(
    *,
    factory_name: str,
    code: str,
    links: list[PosterLink],
    catalogs: Catalogs,
    out: Path,
    fmt: str = "pdf",
    cso_name: str | None = None,
) -> Path:
    """Render the A4 poster for one factory in one round to `out`, as "pdf" or "png"."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    poster = compose_poster(
        factory_name=factory_name, code=code, links=links, catalogs=catalogs, cso_name=cso_name
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"WageCheck poster: {' '.join(factory_name.split())} ({code})"
    if fmt == "png":
        info = PngInfo()
        info.add_itxt("Title", title)
        info.add_itxt("Description", BIDI_CONTROLS.sub("", poster.text))
        info.add_itxt("Poster code", code)
        poster.image.save(out, "PNG", dpi=(DPI, DPI), pnginfo=info)
    else:
        _save_pdf(poster, out, title)
    return out


def _save_pdf(poster: Poster, out: Path, title: str) -> None:
    """An A4 PDF: the page image, clickable QR codes, and an invisible text layer so the
    poster's words can be searched and copied."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    fonts = _pdf_fonts()
    page_w, page_h = A4
    k = page_w / PAGE_W  # points per pixel
    pdf = canvas.Canvas(str(out), pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    pdf.setCreator("WageCheck")
    pdf.drawImage(ImageReader(poster.image), 0, 0, width=page_w, height=page_h)
    for q in poster.qrs:
        pdf.linkURL(q.url, (q.box[0] * k, page_h - q.box[3] * k, q.box[2] * k, page_h - q.box[1] * k))
    for t in poster.texts:
        text = BIDI_CONTROLS.sub("", t.text)
        font = fonts["arabic" if t.rtl else "latin"]
        size = t.size * k
        width = pdf.stringWidth(text, font, size)
        obj = pdf.beginText()
        obj.setTextRenderMode(3)  # invisible: the image shows the shaped text
        obj.setFont(font, size)
        if width:
            obj.setHorizScale(100 * (t.box[2] - t.box[0]) * k / width)
        obj.setTextOrigin(t.box[0] * k, page_h - t.box[3] * k)
        obj.textLine(text)
        pdf.drawText(obj)
    pdf.showPage()
    pdf.save()


@lru_cache(maxsize=1)
def _pdf_fonts() -> dict[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    names = {"latin": "WageCheck-NotoSans", "arabic": "WageCheck-NotoSansArabic"}
    pdfmetrics.registerFont(TTFont(names["latin"], str(LATIN_FONT)))
    pdfmetrics.registerFont(TTFont(names["arabic"], str(ARABIC_FONT)))
    return names
