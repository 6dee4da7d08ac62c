"""The service layer: one inbound message -> one transaction; administrative use cases."""

from bot.service.inbound import SurveyService
from bot.service.messages import InboundMessage, Outcome

__all__ = ["InboundMessage", "Outcome", "SurveyService"]
