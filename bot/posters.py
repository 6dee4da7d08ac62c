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
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from bot.i18n import N_, RTL_LANGUAGES, Catalogs

# ------------------------------------------------------------------------------ the strings
# TRANSLATORS: poster title, printed large at the factory gate. Short and plain.
TITLE = N_("Did you get the legal minimum wage? Tell us — anonymously.")
# TRANSLATORS: poster, printed large in Latin letters; {code} is the poster code (K7M4QP).
CODE_LINE = N_("Code: {code}")
# TRANSLATORS: poster, under the big code.
SEND_CODE = N_("or send this code to the bot")
# TRANSLATORS: poster, first line: what it is.
WHAT = N_("A short survey about your wage. It takes about 3 minutes.")
# TRANSLATORS: poster, second line: that it is anonymous.
ANONYMOUS = N_("It is anonymous: we do not ask your name. Your employer never sees your answers.")
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
MARGIN = mm(10)  # cheap printers cannot print the outer 4-6 mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_MIN = mm(60)  # the symbol itself, without its quiet zone
QUIET = 4  # modules of white around a QR code, as the standard asks
RULE = max(2, mm(0.5))
QR_TWO, QR_ONE = mm(62), mm(80)  # aimed-at symbol size with two codes, with one
# Design sizes in points (Arabic script looks smaller than Latin at the same size).
TITLE_PT, TITLE_EN_PT = 20, 17
FACTORY_PT = 24
CHANNEL_PT = 18
CODE_PT, SEND_PT, SEND_EN_PT = 38, 13, 12
BODY_PT, BODY_EN_PT = 13, 12
MIN_SCALE = 0.6  # below this the body text would be too small to read
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
SENTENCE_END = re.compile(r"(?<=[.?!؟۔])\s+")


@dataclass(frozen=True)
class PosterLink:
    """One way in: a deep link that carries the poster code into the bot."""

    channel: str  # "telegram" | "whatsapp"
    url: str  # https://t.me/<bot>?start=<CODE> or https://wa.me/<number>?text=<CODE>


def deep_link(bot_username: str, code: str) -> str:
    """Telegram's link: opens the bot and sends /start <code>."""
    return f"https://t.me/{bot_username}?start={code}"


def wa_link(number: str, code: str) -> str:
    """WhatsApp's link: opens a chat with our number, `code` ready to send."""
    return f"https://wa.me/{re.sub(r'[^0-9]', '', number)}?text={code}"


def poster_links(
    bot_username: str | None, whatsapp_number: str | None, code: str
) -> list[PosterLink]:
    """The poster's links for the channels that are set up (a bot username, a number)."""
    links = [PosterLink("telegram", deep_link(bot_username, code))] if bot_username else []
    if whatsapp_number:
        links.append(PosterLink("whatsapp", wa_link(whatsapp_number, code)))
    return links


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


def first_strong_is_rtl(text: str) -> bool:
    """The direction of a name by its first letter (Unicode's rule for a paragraph)."""
    for ch in text:
        if ARABIC_LETTER.match(ch):
            return True
        if ch.isalpha():
            return False
    return False


@dataclass(frozen=True)
class _Run:
    """How to draw one piece of text: font, direction and language tag for shaping."""

    font: ImageFont.FreeTypeFont
    script: str  # "arabic" | "latin": which font, so which line extents
    rtl: bool
    language: str

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"direction": "rtl" if self.rtl else "ltr", "language": self.language}

    def ink_width(self, text: str) -> int:
        left, _, right, _ = self.bbox(text)
        return right - left

    def bbox(self, text: str) -> tuple[int, int, int, int]:
        """Ink box relative to the left end of the baseline."""
        return self.font.getbbox(text, anchor="ls", **self.kwargs)  # type: ignore[return-value]  # ints for a FreeType font


def _run(text: str, lang: str, size: int, bold: bool) -> _Run:
    """Urdu and Sindhi lines run right to left, the others left to right. Any line with
    Arabic letters (also an English line with an Urdu name in it) uses Noto Sans Arabic,
    which has the Latin letters too; Latin-only lines use Noto Sans."""
    rtl = lang in RTL_LANGUAGES
    script = "arabic" if is_rtl_text(text) else "latin"
    return _Run(poster_font(script, size, bold), script, rtl, lang if rtl else "en")


@lru_cache(maxsize=128)
def _line_extent(script: str, size: int, bold: bool) -> tuple[int, int]:
    """Typical ascent and descent (px) of a line, so that lines sit at an even pitch."""
    if script == "arabic":
        run = _Run(poster_font("arabic", size, bold), "arabic", True, "sd")
        box = run.bbox("آلطکگ ڇڃجےی")
    else:
        run = _Run(poster_font("latin", size, bold), "latin", False, "en")
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
        asc, desc = _line_extent(run.script, size, bold)
        for line in _wrap(text, run, width):
            box = run.bbox(line)
            # align the ink, not the advance: a glyph may reach past its advance width
            if center:
                x = left + (width - (box[2] - box[0])) // 2 - box[0]
            elif run.rtl:
                x = left + width - box[2]
            else:
                x = left - box[0]
            baseline = self.y + max(asc, -box[1])
            self.draw.text(
                (x, baseline), line, fill=BLACK, font=run.font, anchor="ls", **run.kwargs
            )
            ink = (x + box[0], baseline + box[1], x + box[2], baseline + box[3])
            self.texts.append(PlacedText(lang, line, ink, size, run.rtl))
            self.y = baseline + max(desc, box[3]) + round(size * leading)
        self.y -= round(size * leading)  # no leading after the last line

    def qr(self, link: PosterLink, matrix: list[list[bool]], module: int, x: int) -> int:
        """Draw a QR code with its top-left corner at (x, y); returns its width."""
        image = qr_image(matrix, module)
        self.image.paste(image, (x, self.y))
        box = (x, self.y, x + image.width, self.y + image.height)
        self.qrs.append(PlacedQR(link.channel, link.url, box, module))
        return image.width

    def crop(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y))


def _wrap(text: str, run: _Run, width: float) -> list[str]:
    """Lines of at most `width`; a line break falls between sentences where that costs no
    extra line (the title reads as question / answer, not as a sentence cut anywhere)."""
    greedy = _wrap_words(text, run, width)
    if len(greedy) > 1:
        sentences = [p for p in SENTENCE_END.split(text) if p]
        by_sentence = [line for part in sentences for line in _wrap_words(part, run, width)]
        if len(by_sentence) <= len(greedy):
            return by_sentence
    return greedy


def _wrap_words(text: str, run: _Run, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in WORDS.findall(text):
        candidate = f"{current} {word}" if current else word
        if current and run.ink_width(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def qr_matrix(url: str, version: int | None = None) -> list[list[bool]]:
    """The modules of a QR code, quiet zone included. Error correction Q (25 %): a torn or
    dirty poster still scans."""
    qr = qrcode.QRCode(
        version=version, error_correction=qrcode.constants.ERROR_CORRECT_Q, border=QUIET
    )
    qr.add_data(url)
    qr.make(fit=version is None)
    return qr.get_matrix()


def qr_version(url: str) -> int:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=QUIET)
    qr.add_data(url)
    qr.make(fit=True)
    return int(qr.version)


def qr_image(matrix: list[list[bool]], module: int) -> Image.Image:
    """The matrix drawn with `module` whole pixels per module (crisp edges on any printer)."""
    n = len(matrix)
    small = Image.new("L", (n, n), WHITE)
    small.putdata([BLACK if dark else WHITE for row in matrix for dark in row])
    return small.resize((n * module, n * module), Image.Resampling.NEAREST)


# ------------------------------------------------------------------------------ the content
def _texts(catalogs: Catalogs, msgid: str, **params: str) -> list[tuple[str, str]]:
    """(lang, text) per poster language; a language without a translation is left out."""
    found = []
    for lang in POSTER_LANGUAGES:
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
            strip.space(round(pt(9) * s))
        size = TITLE_PT if lang in RTL_LANGUAGES else TITLE_EN_PT
        strip.paragraph(
            text,
            lang,
            round(pt(size) * s),
            bold=True,
            center=True,
            leading=0.1,
            left=CONTENT_W // 20,
            width=CONTENT_W * 9 // 10,
        )
    return strip


def _factory(factory_name: str, s: float) -> _Strip:
    """The factory's name, large, between two rules; at most two lines (smaller if long)."""
    strip = _Strip()
    strip.rule()
    strip.space(round(pt(9) * s))
    name = " ".join(BIDI_CONTROLS.sub("", factory_name).split())
    lang = "ur" if first_strong_is_rtl(name) else "en"
    size = round(pt(FACTORY_PT) * s)
    while size > pt(14) and len(_wrap(name, _run(name, lang, size, True), CONTENT_W)) > 2:
        size = round(size * 0.92)
    strip.paragraph(name, lang, size, bold=True, center=True, leading=0.1)
    strip.space(round(pt(9) * s))
    strip.rule()
    return strip


def _qr_row(links: list[PosterLink], s: float) -> _Strip:
    """The QR codes side by side, all of one version so they print at one size; each symbol
    at least QR_MIN wide. Their quiet zones keep them apart."""
    strip = _Strip()
    version = max(qr_version(link.url) for link in links)
    matrices = [qr_matrix(link.url, version) for link in links]
    n = len(matrices[0])
    symbol = n - 2 * QUIET
    target = (QR_TWO if len(links) > 1 else QR_ONE) * s
    module = max(-(-QR_MIN // symbol), round(target / symbol))
    width = n * module
    if len(links) * width > CONTENT_W:
        raise ValueError("the links are too long: their QR codes do not fit side by side on A4")
    gap = (CONTENT_W - len(links) * width) // (len(links) + 1)
    top = bottom = strip.y
    for i, (link, matrix) in enumerate(zip(links, matrices, strict=True)):
        x = gap + i * (width + gap)
        strip.y = top
        strip.qr(link, matrix, module, x)
        # the quiet zone is white: the label may start just below the symbol
        strip.y += width - (QUIET - 1) * module
        strip.paragraph(
            CHANNELS[link.channel],
            "en",
            round(pt(CHANNEL_PT) * s),
            bold=True,
            center=True,
            left=x,
            width=width,
        )
        bottom = max(bottom, strip.y)
    strip.y = bottom
    return strip


def _code_box(catalogs: Catalogs, code: str, s: float) -> _Strip:
    """The code in big Latin letters, for typing it into the bot, in a box."""
    strip = _Strip()
    pad, inset, border = round(pt(10) * s), mm(10), 2 * RULE
    top = strip.y
    strip.space(border + pad)
    line = catalogs.get("en").gettext(CODE_LINE, code=code)
    strip.paragraph(line, "en", round(pt(CODE_PT) * s), bold=True, center=True)
    strip.space(round(pt(6) * s))
    for lang, text in _texts(catalogs, SEND_CODE):
        strip.space(round(pt(2) * s))
        size = SEND_PT if lang in RTL_LANGUAGES else SEND_EN_PT
        strip.paragraph(text, lang, round(pt(size) * s), center=True, leading=0.1)
    strip.space(pad + border)
    strip.draw.rounded_rectangle(
        (inset, top, strip.width - 1 - inset, strip.y - 1),
        radius=mm(4),
        outline=BLACK,
        width=border,
    )
    return strip


def _body(catalogs: Catalogs, channels: frozenset[str], cso_name: str | None, s: float) -> _Strip:
    """What it is, that it is anonymous, how to start, who runs it: a block per language."""
    strip = _Strip()
    sentences: list[tuple[str, dict[str, str]]] = [
        (WHAT, {}),
        (ANONYMOUS, {}),
        (HOW[channels], {}),
        (RUN_BY, {"cso": _name(cso_name)})
        if cso_name and cso_name.strip()
        else (RUN_BY_UNNAMED, {}),
    ]
    per_lang: dict[str, list[str]] = {lang: [] for lang in POSTER_LANGUAGES}
    for msgid, params in sentences:
        for lang, text in _texts(catalogs, msgid, **params):
            per_lang[lang].append(text)
    blocks = [(lang, lines) for lang, lines in per_lang.items() if lines]
    for i, (lang, lines) in enumerate(blocks):
        if i:
            strip.space(round(pt(12) * s))
        size = round(pt(BODY_PT if lang in RTL_LANGUAGES else BODY_EN_PT) * s)
        for j, line in enumerate(lines):
            if j:
                strip.space(round(pt(2) * s))
            strip.paragraph(line, lang, size, leading=0.12)
    return strip


def compose_poster(
    *,
    factory_name: str,
    code: str,
    links: list[PosterLink],
    catalogs: Catalogs,
    cso_name: str | None = None,
) -> Poster:
    """Draw the poster page (PIL image, 300 dpi, greyscale) and record what is where.

    Text starts at its design size and shrinks (QR codes never below QR_MIN) until the page
    holds everything; the space left over is spread between the sections."""
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
        free = PAGE_H - 2 * MARGIN - sum(section.y for section in sections)
        min_gap = round(pt(10) * scale)
        if free >= min_gap * (len(sections) - 1):
            break
        if scale < MIN_SCALE:
            raise ValueError("the poster's text does not fit on one A4 page; shorten the names")
        scale *= 0.97
    gap = min(free // (len(sections) - 1), pt(36))
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
    """An A4 PDF: the page image, clickable QR codes, and an invisible text layer with the
    Latin-script lines (code, English, names) so they can be searched and copied. Urdu and
    Sindhi are left out of that layer: a PDF text layer holds glyphs in visual order, and
    writing logical-order Arabic there makes readers extract it backwards."""
    font = _pdf_font()
    page_w, page_h = A4
    k = page_w / PAGE_W  # points per pixel
    pdf = canvas.Canvas(str(out), pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    pdf.setCreator("WageCheck")
    pdf.drawImage(ImageReader(poster.image), 0, 0, width=page_w, height=page_h)
    for q in poster.qrs:
        rect = (q.box[0] * k, page_h - q.box[3] * k, q.box[2] * k, page_h - q.box[1] * k)
        pdf.linkURL(q.url, rect)
    for t in poster.texts:
        text = BIDI_CONTROLS.sub("", t.text)
        if t.rtl or is_rtl_text(text):
            continue
        size = t.size * k
        width = pdf.stringWidth(text, font, size)
        obj = pdf.beginText()
        obj.setTextRenderMode(3)  # invisible: the image shows the text
        obj.setFont(font, size)
        if width:
            obj.setHorizScale(100 * (t.box[2] - t.box[0]) * k / width)
        obj.setTextOrigin(t.box[0] * k, page_h - t.box[3] * k)
        obj.textLine(text)
        pdf.drawText(obj)
    pdf.showPage()
    pdf.save()


@lru_cache(maxsize=1)
def _pdf_font() -> str:
    name = "WageCheck-NotoSans"
    pdfmetrics.registerFont(TTFont(name, str(LATIN_FONT)))
    return name
