"""Report files on disk: names and writing several formats at once (command line, demo)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from pathlib import Path

from bot.reports.build import App, build_report, export_answers
from bot.reports.formats import SUFFIXES, render
from bot.reports.model import Audience

ANSWERS = "answers"  # the CSO's answer-level CSV


def file_name(round_id: int, audience: Audience, fmt: str, lang: str = "en") -> str:
    """e.g. round-1-brand-noordzee-fashion-en.pdf; answer-level data: round-1-answers.csv"""
    slug = re.sub(r"[^a-z0-9]+", "-", audience.name.lower()).strip("-") or audience.kind
    if fmt == ANSWERS:
        return f"round-{round_id}-{audience.kind}-{slug}-answers.csv"
    return f"round-{round_id}-{audience.kind}-{slug}-{lang}{SUFFIXES[fmt]}"


async def write_reports(
    app: App,
    round_id: int,
    audience: Audience | str,
    formats: Iterable[str],
    folder: Path,
    lang: str = "en",
) -> list[Path]:
    """Build the report once and write it in each format into `folder`; returns the paths."""
    who = audience if isinstance(audience, Audience) else Audience.parse(audience)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    wanted = list(formats)
    report = await build_report(app, round_id, who) if set(wanted) - {ANSWERS} else None
    paths = []
    for fmt in wanted:
        path = folder / file_name(round_id, who, fmt, lang)
        if fmt == ANSWERS:
            data = await export_answers(app, round_id, who)
        else:
            assert report is not None
            data = render(report, fmt, lang, locales_dir=app.settings.locales_dir)
        await asyncio.to_thread(path.write_bytes, data)
        paths.append(path)
    return paths
