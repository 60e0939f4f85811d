"""What the scheduler counts for the operator (served by `scheduler --metrics-port`): whether it
leads, and each job's runs and the time of its last run, by outcome. Defined here, not beside the
door's and the workers' counts, so that no other process reports a scheduler that is not there.
The job's label is `job_name`: Prometheus gives every series a `job` label of its own (the
scrape's)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LEADER = Gauge(
    "accompagnement_scheduler_leader",
    "1 si ce planificateur mène (il tient le verrou de la base), 0 s'il attend",
    multiprocess_mode="liveall",
)
JOB_RUNS = Counter(
    "accompagnement_job_runs", "Exécutions des tâches planifiées, par tâche et issue", ["job_name", "outcome"]
)
JOB_LAST_RUN = Gauge(
    "accompagnement_job_last_run_timestamp_seconds",
    "Heure (Unix) de la dernière exécution de chaque tâche planifiée, par issue",
    ["job_name", "outcome"],
    multiprocess_mode="max",
)
