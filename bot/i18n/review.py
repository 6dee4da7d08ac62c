"""Which translations a native speaker has not checked yet.

Every machine-made translation carries the translator comment line

    # machine translation: needs review

above its msgid (a "user comment": `pybabel update` keeps it). A reviewer who has checked an
entry deletes that line (docs/translation-review.md). `python -m bot.i18n.review [locales]`
(`make review-status`) prints how many entries of each catalog still carry it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

REVIEW_MARK = "machine translation: needs review"
# Catalogs whose translations were machine-made: (language, domain).
REVIEWED_LANGUAGES = ("ur", "sd", "nl")
DOMAINS = ("wagecheck", "reports", "portal", "words")


@dataclass(frozen=True)
class ReviewStatus:
    lang: str
    domain: str
    translated: int  # entries with a translation
    unreviewed: int  # of those, entries still marked
    problems: tuple[str, ...]  # marks on empty entries, misspelt marks


def _is_translated(message: Message) -> bool:
    text = message.string
    return any(text) if isinstance(text, (tuple, list)) else bool(text)


def _looks_like_a_mark(comment: str) -> bool:
    folded = " ".join(comment.casefold().split())
    return "machine" in folded or "needs review" in folded or "need review" in folded


def catalog_status(catalog: Catalog, lang: str, domain: str) -> ReviewStatus:
    """Count one catalog's marked entries and find malformed or misplaced marks."""
    translated = unreviewed = 0
    problems: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        marked = REVIEW_MARK in message.user_comments
        for comment in message.user_comments:
            if comment != REVIEW_MARK and _looks_like_a_mark(comment):
                problems.append(f"{msgid!r}: malformed mark {comment!r}")
        if message.user_comments.count(REVIEW_MARK) > 1:
            problems.append(f"{msgid!r}: the mark twice")
        if _is_translated(message):
            translated += 1
            unreviewed += marked
        elif marked:
            problems.append(f"{msgid!r}: marked for review but not translated")
    return ReviewStatus(lang, domain, translated, unreviewed, tuple(problems))


def review_status(locales_dir: Path) -> list[ReviewStatus]:
    """The status of every machine-translated catalog that exists under locales_dir."""
    found = []
    for lang in REVIEWED_LANGUAGES:
        for domain in DOMAINS:
            po = locales_dir / lang / "LC_MESSAGES" / f"{domain}.po"
            if po.exists():
                with po.open("rb") as fh:
                    found.append(catalog_status(read_po(fh), lang, domain))
    return found


def main(argv: list[str]) -> int:
    locales_dir = Path(argv[0]) if argv else Path("locales")
    failed = False
    print(f"{'catalog':<22} {'unreviewed':>10} {'translated':>10}")
    for st in review_status(locales_dir):
        print(f"{st.lang + '/' + st.domain:<22} {st.unreviewed:>10} {st.translated:>10}")
        for problem in st.problems:
            failed = True
            print(f"  problem: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
