"""Puts the data files into the wheel: everything else is in pyproject.toml.

`surveys/`, `locales/` and `docs/report.schema.json` live beside `bot/` in the checkout, where
translators and CSOs edit them. A wheel has no checkout beside it, so the build copies them
into the package as `bot/_data/` (bot/paths.py looks there first) and compiles each gettext
catalog (.po -> .mo, fuzzy entries included, as `make catalogs` does). The compiled domains
ship only as .mo; the `words` catalogs are read as .po (bot/survey/parsing.py) and ship as
they are. Nothing is written into the checkout: .mo files are never committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
COMPILED_DOMAINS = ("wagecheck", "reports", "portal", "staff")
READ_AS_PO = ("words",)


def copy_data(target: Path) -> list[Path]:
    """Copy the surveys, the compiled catalogs and the report schema into `target`."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written: list[Path] = []
    if target.exists():
        shutil.rmtree(target)
    for survey in sorted((ROOT / "surveys").glob("*.yaml")):
        out = target / "surveys" / survey.name
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(survey, out)
        written.append(out)
    for po in sorted((ROOT / "locales").glob("*/LC_MESSAGES/*.po")):
        domain = po.stem
        out_dir = target / "locales" / po.relative_to(ROOT / "locales").parent
        out_dir.mkdir(parents=True, exist_ok=True)
        if domain in COMPILED_DOMAINS:
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parent.parent.name, domain=domain)
            out = out_dir / f"{domain}.mo"
            with out.open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=True)
        elif domain in READ_AS_PO:
            out = out_dir / po.name
            shutil.copyfile(po, out)
        else:
            raise SystemExit(f"setup.py: unknown gettext domain {domain!r} ({po})")
        written.append(out)
    schema = target / "docs" / "report.schema.json"
    schema.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "docs" / "report.schema.json", schema)
    written.append(schema)
    return written


class BuildWithData(build_py):
    """build_py, then bot/_data/ in the build folder (not for an editable install, which
    reads the checkout's folders)."""

    def run(self) -> None:
        super().run()
        if self.dry_run or getattr(self, "editable_mode", False):
            return
        self._data_outputs = copy_data(Path(self.build_lib) / "bot" / "_data")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        extra = [str(p) for p in getattr(self, "_data_outputs", [])]
        return [*super().get_outputs(include_bytecode), *extra]


setup(cmdclass={"build_py": BuildWithData})
