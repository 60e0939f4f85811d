"""The use cases: each opens a unit of work, applies the domain's rules and commits (or is handed
one by its caller). Events, decisions, reminders, revues, audit, indicators, read queries."""
