"""APScheduler jobs that find due work and queue tasks (issue #5); no business rule here."""
