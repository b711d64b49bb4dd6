"""The console's screens beyond the main one: a job's history, a run's output, and help."""
