"""Celery workers that apply events in the background (issue #3). Tasks stay thin: they take
ids or plain JSON and call `workflow`; nothing here holds a business rule."""
