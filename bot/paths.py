"""Where the data files are: `surveys/`, `locales/` and the report schema.

In a checkout (and an editable install) they are the folders beside `bot/`, edited by people
other than developers. A built wheel carries them inside the package, in `bot/_data/`
(setup.py copies them there and compiles the catalogs when the wheel is built), because an
installed package has no checkout beside it. The packaged copy wins when it exists.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The checkout: the folder holding `bot/`, `surveys/`, `locales/` and `docs/`.
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent
#: What a wheel carries (absent in a checkout).
PACKAGED_DATA = Path(str(files("bot"))).resolve() / "_data"


def data_path(*parts: str) -> Path:
    """`surveys`, `locales` or `docs/report.schema.json`: the packaged copy, else the checkout's."""
    packaged = PACKAGED_DATA.joinpath(*parts)
    return packaged if packaged.exists() else CHECKOUT_ROOT.joinpath(*parts)


SURVEYS_DIR = data_path("surveys")
LOCALES_DIR = data_path("locales")
REPORT_SCHEMA_FILE = data_path("docs", "report.schema.json")
