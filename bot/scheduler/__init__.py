"""Scheduled work: rounds open and close on time, reminders, daily status, report delivery
(APScheduler 3, its jobs derived from our database; docs/rounds.md)."""

from bot.scheduler.runner import build_scheduler, running_scheduler

__all__ = ["build_scheduler", "running_scheduler"]
