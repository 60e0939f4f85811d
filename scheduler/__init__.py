"""APScheduler jobs that find due work and queue tasks; no business rule here."""
