"""Celery workers that apply events in the background. Tasks stay thin: they take plain JSON
and call `workflow`; nothing here holds a business rule.

`celery -A tasks worker` finds `app` here; importing the task modules registers the tasks.
"""

from tasks import emails, events, indicators, reminders, revues, seals
from tasks.app import QUEUE, app

__all__ = ["QUEUE", "app", "emails", "events", "indicators", "reminders", "revues", "seals"]
