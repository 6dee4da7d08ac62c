"""The "machine translation: needs review" marks in the ur, sd and nl catalogs.

No Urdu, Sindhi or Dutch string has been checked by a native speaker yet; each machine-made
translation says so in a translator comment, which the reviewer deletes once it is checked
(docs/translation-review.md). The count is reported, never enforced; a mark on an entry with no
translation, or a misspelt mark, fails.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.i18n.review import (
    DOMAINS,
    REVIEW_MARK,
    REVIEWED_LANGUAGES,
    ReviewStatus,
    catalog_status,
    main,
    review_status,
)

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
STATUS = review_status(LOCALES)


def test_unreviewed_translations_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert {(s.lang, s.domain) for s in STATUS} >= {
        (lang, "wagecheck") for lang in REVIEWED_LANGUAGES
    }
    with capsys.disabled():
        print("\nunreviewed machine translations (docs/translation-review.md):")
        for s in STATUS:
            print(f"  {s.lang}/{s.domain}: {s.unreviewed} of {s.translated}")


@pytest.mark.parametrize("status", STATUS, ids=lambda s: f"{s.lang}-{s.domain}")
def test_marks_are_well_formed_and_only_on_translated_entries(status: ReviewStatus) -> None:
    assert not status.problems, "\n".join(status.problems)


def _status_of(po_text: str) -> ReviewStatus:
    return catalog_status(read_po(io.BytesIO(po_text.encode())), "ur", "wagecheck")


def test_a_mark_on_an_empty_translation_is_a_problem() -> None:
    status = _status_of(f'# {REVIEW_MARK}\nmsgid "Yes"\nmsgstr ""\n')
    assert status.problems == ("'Yes': marked for review but not translated",)


@pytest.mark.parametrize(
    "comment",
    ["machine translation - needs review", "Machine translation: needs review.", "needs review"],
)
def test_a_misspelt_mark_is_a_problem(comment: str) -> None:
    status = _status_of(f'# {comment}\nmsgid "Yes"\nmsgstr "ہاں"\n')
    assert status.problems and "malformed" in status.problems[0]
    assert status.unreviewed == 0


def test_a_reviewed_entry_is_one_without_the_mark() -> None:
    status = _status_of(
        f'# {REVIEW_MARK}\nmsgid "Yes"\nmsgstr "ہاں"\n\nmsgid "No"\nmsgstr "نہیں"\n'
    )
    assert (status.translated, status.unreviewed, status.problems) == (2, 1, ())


def test_pybabel_update_keeps_the_mark() -> None:
    # The mark is a translator ("user") comment: merging a new template keeps it.
    from babel.messages.catalog import Catalog

    catalog = read_po(io.BytesIO(f'# {REVIEW_MARK}\nmsgid "Yes"\nmsgstr "ہاں"\n'.encode()))
    template = Catalog()
    template.add("Yes", auto_comments=["TRANSLATORS: a button"])
    catalog.update(template)
    buf = io.BytesIO()
    write_po(buf, catalog, width=76, sort_by_file=True)
    assert f"# {REVIEW_MARK}\n" in buf.getvalue().decode()


def test_review_status_command_lists_every_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(LOCALES)]) == 0
    out = capsys.readouterr().out
    for s in STATUS:
        assert f"{s.lang}/{s.domain}" in out
    assert set(DOMAINS) >= {s.domain for s in STATUS}
