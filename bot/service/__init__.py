"""The service layer: one inbound message -> one transaction; administrative use cases."""

from bot.service.inbound import InboundMessage, Outcome, SurveyService

__all__ = ["InboundMessage", "Outcome", "SurveyService"]
