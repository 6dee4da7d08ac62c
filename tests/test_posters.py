"""The factory-gate poster: A4, QR codes that scan to the right links, the code in print,
Urdu and Sindhi shaped (joined, right to left), nothing overlapping, English when a
translation is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader

from bot.i18n import Catalogs
from bot.posters import (
    CONTENT_W,
    DPI,
    MARGIN,
    PAGE_H,
    PAGE_W,
    QUIET,
    SEND_CODE,
    TITLE,
    Poster,
    PosterLink,
    compose_poster,
    poster_font,
    render_poster,
)

CODE = "K7M4QP"
TELEGRAM = PosterLink("telegram", f"https://t.me/WageCheckSindhBot?start={CODE}")
WHATSAPP = PosterLink("whatsapp", f"https://wa.me/923001234567?text={CODE}")
FACTORY = "Korangi Knitwear (Pvt) Ltd"
CSO = "Labour Education Foundation"
A4_POINTS = (595.28, 841.89)
CM = DPI / 2.54
LOCALES = Path(__file__).resolve().parent.parent / "locales"


def _decode(image: Image.Image) -> set[str]:
    return {b.text for b in zxingcpp.read_barcodes(image)}


@pytest.fixture(scope="module")
def poster(catalogs: Catalogs) -> Poster:
    return compose_poster(
        factory_name=FACTORY,
        code=CODE,
        links=[TELEGRAM, WHATSAPP],
        catalogs=catalogs,
        cso_name=CSO,
    )


@pytest.fixture(scope="module")
def pdf_file(catalogs: Catalogs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("poster") / "poster.pdf"
    returned = render_poster(
        factory_name=FACTORY,
        code=CODE,
        links=[TELEGRAM, WHATSAPP],
        catalogs=catalogs,
        out=out,
        fmt="pdf",
        cso_name=CSO,
    )
    assert returned == out
    return out


# ------------------------------------------------------------------------------ files


def test_pdf_is_one_a4_page_whose_image_holds_scannable_codes(pdf_file: Path) -> None:
    reader = PdfReader(pdf_file)
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(A4_POINTS[0], abs=0.5)
    assert float(page.mediabox.height) == pytest.approx(A4_POINTS[1], abs=0.5)
    (image,) = page.images
    assert _decode(image.image) == {TELEGRAM.url, WHATSAPP.url}
    links = {a.get_object()["/A"]["/URI"] for a in page["/Annots"]}
    assert links == {TELEGRAM.url, WHATSAPP.url}


def test_pdf_text_layer_has_the_code_and_the_english_lines(
    pdf_file: Path, catalogs: Catalogs
) -> None:
    text = PdfReader(pdf_file).pages[0].extract_text()
    assert f"Code: {CODE}" in text
    assert TITLE in text
    assert FACTORY in text and CSO in text


def test_png_is_a4_at_300_dpi_with_the_code_in_its_metadata(
    catalogs: Catalogs, tmp_path: Path
) -> None:
    out = render_poster(
        factory_name=FACTORY,
        code=CODE,
        links=[TELEGRAM],
        catalogs=catalogs,
        out=tmp_path / "poster.png",
        fmt="png",
    )
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (2480, 3508)
        assert image.height / image.width == pytest.approx(297 / 210, rel=1e-3)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.1)
        assert image.text["Poster code"] == CODE
        assert f"Code: {CODE}" in image.text["Description"]
        assert _decode(image) == {TELEGRAM.url}


def test_unknown_format_is_refused(catalogs: Catalogs, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        render_poster(
            factory_name=FACTORY,
            code=CODE,
            links=[TELEGRAM],
            catalogs=catalogs,
            out=tmp_path / "p.svg",
            fmt="svg",
        )


# ------------------------------------------------------------------------------ content


def test_qr_codes_decode_to_their_links_and_are_at_least_6_cm(poster: Poster) -> None:
    assert _decode(poster.image) == {TELEGRAM.url, WHATSAPP.url}
    for qr in poster.qrs:
        left, _, right, _ = qr.box
        crop = poster.image.crop(qr.box)
        assert _decode(crop) == {qr.url}, f"{qr.channel}: the code drawn there is another one"
        symbol = right - left - 2 * QUIET * qr.module
        assert symbol / CM >= 6.0, f"{qr.channel}: {symbol / CM:.1f} cm"


def test_each_qr_code_is_labelled_with_its_channel(poster: Poster) -> None:
    for qr, name in zip(poster.qrs, ("Telegram", "WhatsApp"), strict=True):
        label = next(t for t in poster.texts if t.text == name)
        assert qr.box[0] <= label.box[0] and label.box[2] <= qr.box[2]
        assert label.box[1] > qr.box[3] - QUIET * qr.module  # below the symbol


def test_poster_shows_the_code_title_factory_and_cso_in_three_languages(
    poster: Poster, catalogs: Catalogs
) -> None:
    text = poster.text
    assert f"Code: {CODE}" in text
    assert FACTORY in text and CSO in text
    for lang in ("ur", "sd"):
        assert catalogs.get(lang).gettext(SEND_CODE) in text
        lines = [t for t in poster.texts if t.lang == lang]
        assert lines and all(t.rtl for t in lines)
    # the title, wrapped between its two sentences
    assert "Did you get the legal minimum wage?" in text
    urdu_title = catalogs.get("ur").gettext(TITLE)
    assert urdu_title.split("؟")[0] in text


def test_nothing_overlaps_and_everything_is_inside_the_margins(poster: Poster) -> None:
    boxes = [(t.text, t.box) for t in poster.texts]
    for qr in poster.qrs:
        # the symbol plus one module; labels may sit in the rest of the quiet zone
        inner = (QUIET - 1) * qr.module
        boxes.append((f"QR {qr.channel}", _shrink(qr.box, inner)))
    for name, (left, top, right, bottom) in boxes:
        assert MARGIN <= left < right <= PAGE_W - MARGIN, name
        assert MARGIN <= top < bottom <= PAGE_H - MARGIN, name
    for i, (a_name, a) in enumerate(boxes):
        for b_name, b in boxes[i + 1 :]:
            assert not _intersect(a, b), f"{a_name!r} overlaps {b_name!r}"


def test_body_lines_are_aligned_to_their_reading_side(poster: Poster) -> None:
    body = poster.texts[-12:]  # 4 sentences x (ur, sd, en), one line each at this width
    right_edge, left_edge = PAGE_W - MARGIN, MARGIN
    for line in body:
        if line.rtl:
            assert right_edge - line.box[2] < 10, line.text
        else:
            assert line.box[0] - left_edge < 10, line.text


def test_a_missing_translation_falls_back_to_english(tmp_path: Path) -> None:
    out = render_poster(
        factory_name=FACTORY,
        code=CODE,
        links=[TELEGRAM, WHATSAPP],
        catalogs=Catalogs.untranslated(),
        out=tmp_path / "english.png",
        fmt="png",
    )
    with Image.open(out) as image:
        assert _decode(image) == {TELEGRAM.url, WHATSAPP.url}
    poster = compose_poster(
        factory_name=FACTORY,
        code=CODE,
        links=[TELEGRAM, WHATSAPP],
        catalogs=Catalogs.untranslated(),
    )
    assert {t.lang for t in poster.texts} == {"en"}
    assert not any(t.rtl for t in poster.texts)
    assert poster.text.count("Did you get the legal minimum wage?") == 1  # not once per language
    assert f"Code: {CODE}" in poster.text


def test_a_language_without_its_catalog_is_left_out() -> None:
    only_urdu = Catalogs.load(LOCALES, languages=("en", "ur"))
    poster = compose_poster(
        factory_name=FACTORY, code=CODE, links=[TELEGRAM], catalogs=only_urdu, cso_name=CSO
    )
    assert {t.lang for t in poster.texts} == {"en", "ur"}


def test_names_in_urdu_keep_their_direction_on_every_line(catalogs: Catalogs) -> None:
    name = "مزدور حقوق تنظیم"
    poster = compose_poster(
        factory_name="کورنگی گارمنٹس",
        code=CODE,
        links=[WHATSAPP],
        catalogs=catalogs,
        cso_name=name,
    )
    english = [t for t in poster.texts if t.lang == "en" and name in t.text]
    assert len(english) == 1 and not english[0].rtl  # "Run by <name>." reads left to right
    assert english[0].box[0] - MARGIN < 10
    factory = next(t for t in poster.texts if t.text == "کورنگی گارمنٹس")
    assert factory.rtl
    assert _decode(poster.image) == {WHATSAPP.url}


@pytest.mark.parametrize(
    ("links", "problem"),
    [
        ([], "one link"),
        ([PosterLink("telegram", "https://t.me/WageCheckSindhBot?start=OTHER1")], "code"),
        ([PosterLink("signal", f"https://signal.me/{CODE}")], "channel"),
        ([TELEGRAM, TELEGRAM], "same channel"),
    ],
)
def test_bad_links_are_refused(links: list[PosterLink], problem: str, catalogs: Catalogs) -> None:
    with pytest.raises(ValueError, match=problem):
        compose_poster(factory_name=FACTORY, code=CODE, links=links, catalogs=catalogs)


# ------------------------------------------------------------------------------ shaping


def test_urdu_is_shaped_by_raqm_joined_letters_are_narrower_than_isolated_ones() -> None:
    font = poster_font("arabic", 100)
    assert font.layout_engine == ImageFont.Layout.RAQM
    word = "تنخواہ"  # wage: four of its letters join
    joined = font.getlength(word, direction="rtl", language="ur")
    isolated = sum(font.getlength(ch, direction="rtl", language="ur") for ch in word)
    assert joined < 0.9 * isolated


def test_urdu_is_drawn_right_to_left() -> None:
    """In آپ the alef comes first, so it must stand on the right; peh, the only letter with
    ink below the baseline (its three dots), on the left."""
    baseline = 150
    image = Image.new("L", (600, 240), 255)
    ImageDraw.Draw(image).text(
        (50, baseline),
        "آپ",
        font=poster_font("arabic", 100),
        fill=0,
        anchor="ls",
        direction="rtl",
        language="ur",
    )
    word = image.point(lambda v: 255 - v).getbbox()
    below = image.crop((0, baseline + 5, 600, 240)).point(lambda v: 255 - v).getbbox()
    assert word is not None and below is not None
    dots_centre = (below[0] + below[2]) / 2
    assert dots_centre < (word[0] + word[2]) / 2


def _shrink(box: tuple[int, int, int, int], by: int) -> tuple[int, int, int, int]:
    return (box[0] + by, box[1] + by, box[2] - by, box[3] - by)


def _intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_content_width_is_the_page_less_its_margins() -> None:
    assert CONTENT_W == PAGE_W - 2 * MARGIN
