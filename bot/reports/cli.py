"""`wagecheck report ROUND --for brand:NAME|cso:NAME --format ... --out PATH [--lang en|nl]`."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.reports.files import ANSWERS, file_name

FORMAT_HELP = "json, csv (a zip, one file per table), xlsx, html, pdf; answers (CSO only)"


def register(app: typer.Typer) -> None:
    """Add the report command to the main command line."""

    @app.command()
    def report(
        round_id: Annotated[int, typer.Argument(help="the round's id (wagecheck round list)")],
        audience: Annotated[
            str, typer.Option("--for", help="brand:NAME or cso:NAME (who receives it)")
        ],
        fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "pdf",
        out: Annotated[
            Path | None, typer.Option(help="file to write (default: HOME/reports/<name>)")
        ] = None,
        lang: Annotated[str, typer.Option(help="language of the report text: en or nl")] = "en",
    ) -> None:
        """Write a round's results for a brand or a CSO, with disclosure control applied."""
        from bot.config import Settings
        from bot.reports.build import build_report, export_answers
        from bot.reports.disclosure import ReportError
        from bot.reports.formats import FORMATS, render
        from bot.reports.model import Audience

        err = Console(stderr=True)
        if fmt not in (*FORMATS, ANSWERS):
            err.print(f"[red]error:[/red] --format must be one of {', '.join(FORMATS)}, {ANSWERS}")
            raise typer.Exit(2)
        if lang not in ("en", "nl"):
            err.print("[red]error:[/red] --lang must be en or nl")
            raise typer.Exit(2)
        try:
            who = Audience.parse(audience)
        except ValueError as exc:
            err.print(f"[red]error:[/red] --for: {exc}")
            raise typer.Exit(2) from None
        settings = Settings()  # type: ignore[call-arg]  # (mypy has no pydantic plugin here)
        # Imported by name: the wiring module lies outside the part mypy checks.
        build_app = importlib.import_module("bot.bootstrap").build_app

        async def work() -> bytes:
            application = await build_app(settings)
            try:
                if fmt == ANSWERS:
                    return await export_answers(application, round_id, who)
                built = await build_report(application, round_id, who)
                return render(built, fmt, lang, locales_dir=settings.locales_dir)
            finally:
                await application.close()

        try:
            data = asyncio.run(work())
        except ReportError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        path = out or settings.home / "reports" / file_name(round_id, who, fmt, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        Console().print(f"wrote {path} ({len(data):,} bytes)")
