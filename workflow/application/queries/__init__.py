"""Read models for people: what pages, tables and the command line show."""
