"""Scheduled work: rounds open and close on time, reminders, daily status, report delivery
(APScheduler 3 with its job store in our database; docs/rounds.md)."""

from bot.scheduler.runner import build_scheduler, running_scheduler, sync_url

__all__ = ["build_scheduler", "running_scheduler", "sync_url"]
