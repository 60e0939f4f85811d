"""The pure rules: the lifecycle and its guards, conventions, dates, deadlines, reminder rules,
permissions and the events contract. No session, no file format, no Celery: unit-testable as is."""
