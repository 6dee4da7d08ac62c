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
    """Engines keyed by the hash of their definition, so a round always runs the definition
    stored with it, even if the file on disk was edited since (without a new version)."""

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
        self.default = self.for_definition(default.model_dump(mode="json"))

    def for_definition(self, definition: dict[str, Any]) -> Engine:
        """The engine for a stored (or loaded) definition."""
        sha = definition_sha256(definition)
        engine = self._engines.get(sha)
        if engine is None:
            survey = Survey.model_validate(definition)
            engine = self._engines[sha] = Engine(survey, self.wages, self.catalogs, self.options)
        return engine
