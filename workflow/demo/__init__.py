"""The simulated département behind `accompagnement demo`: its directory, its cases' life stories,
and the year lived day by day through the real ingestion path."""
