"""The reminder rows: planned inside every decision (`planning`), sent by the daily scan."""
