"""A run's report: `summary.json` (what the run did and what the warehouse holds after it) and `index.html`
(the same as tables and plots, with links to Splink's charts), in `<reports dir>/<run id>/`.

`collect` gathers the figures (Spark, the table store), `figures` turns them into plots, `page` renders the
page, `files` puts everything on the warehouse's file system and keeps the last N runs. Every run writes its
report, failed runs included; a report that cannot be written is logged, never the run's failure.
"""

from c360.report.files import latest_run, reports_root, run_folder, staged
from c360.report.writer import show, write_report

__all__ = ["latest_run", "reports_root", "run_folder", "show", "staged", "write_report"]
