"""The core: schedules, runs, records and reports jobs. Never imports Textual or Rich."""
