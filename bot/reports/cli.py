"""`wagecheck report ROUND --for brand:NAME|cso:NAME --format ... --out PATH [--lang en|nl]`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.console import Console

from bot.config import Settings
from bot.reports.build import App, audit_generation, build_report, export_answers
from bot.reports.disclosure import ReportError
from bot.reports.files import ANSWERS, file_name
from bot.reports.formats import FORMATS, render
from bot.reports.model import Audience

FORMAT_HELP = "json, csv (a zip, one file per table), xlsx, html, pdf; answers (CSO only)"


class ClosableApp(App, Protocol):
    """The application as the command line builds it: closed after use."""

    async def close(self) -> None: ...


def register(app: typer.Typer, build_app: Callable[[Settings], Awaitable[ClosableApp]]) -> None:
    """Add the report command to the main command line; `build_app` is the composition
    root's (the reports package sits below it and does not import it)."""

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
        settings = Settings()

        async def work() -> bytes:
            application = await build_app(settings)
            try:
                if fmt == ANSWERS:
                    data = await export_answers(application, round_id, who)
                else:
                    built = await build_report(application, round_id, who)
                    data = render(built, fmt, lang, locales_dir=settings.locales_dir)
                await audit_generation(
                    application, "cli", round_id, who, fmt, None if fmt == ANSWERS else lang
                )
                return data
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
