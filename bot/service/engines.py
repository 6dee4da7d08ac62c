"""One engine per survey version, built from the definition stored with the round."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.i18n import Catalogs
from bot.survey.definition import Survey
from bot.survey.engine import Engine, EngineOptions
from bot.wages import WageTable


def definition_sha256(definition: dict[str, Any]) -> str:
    """A stable fingerprint of a definition (notices an edited file that kept its version)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


class EngineRegistry:
    """Engines by `survey@version`; the default one serves conversations without a round."""

    def __init__(
        self,
        default: Survey,
        wages: WageTable,
        catalogs: Catalogs,
        options: EngineOptions | None = None,
    ) -> None:
        self.wages = wages
        self.catalogs = catalogs
        self.options = options or EngineOptions()
        self._engines: dict[str, Engine] = {}
        self.default = self.add(default)

    def add(self, survey: Survey) -> Engine:
        engine = self._engines.get(survey.key)
        if engine is None:
            engine = Engine(survey, self.wages, self.catalogs, self.options)
            self._engines[survey.key] = engine
        return engine

    def for_definition(self, definition: dict[str, Any]) -> Engine:
        key = f"{definition['id']}@{definition['version']}"
        return self._engines.get(key) or self.add(Survey.model_validate(definition))

    def get(self, key: str) -> Engine | None:
        return self._engines.get(key)
