"""Writing a run's report and reading it back (`c360 report`)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from c360.config import C360Config
from c360.errors import C360Error
from c360.report import files
from c360.report.collect import collect
from c360.report.page import PLOTLY_JS, plotly_script, render

if TYPE_CHECKING:
    from c360.pipeline import RunContext

log = logging.getLogger(__name__)


def write_report(ctx: RunContext, results: dict[str, dict], error: str | None = None) -> str | None:
    """Write summary.json and index.html of this run into its report folder and prune old runs; returns the
    page's path. A report that cannot be written is logged and None returned: it never fails the run."""
    folder = files.run_folder(ctx.config, ctx.run_id)
    try:
        summary = collect(ctx, results, error)
        root = files.reports_root(ctx.config)
        assets = f"{root}/{files.ASSETS}"
        if not files.exists(assets, PLOTLY_JS):
            files.write_text(assets, PLOTLY_JS, plotly_script())
        files.write_text(folder, "summary.json", json.dumps(summary, indent=2, default=str))
        charts = [n for n in files.file_names(folder) if n.endswith(".html") and n != "index.html"]
        page = files.write_text(folder, "index.html", render(summary, charts, f"../{files.ASSETS}/{PLOTLY_JS}"))
        dropped = files.prune(root, ctx.config.silver.reports_keep_runs)
        log.info("report: %s%s", page, f" ({len(dropped)} older run reports deleted)" if dropped else "")
        return page
    except Exception as exc:  # noqa: BLE001 - the run's own outcome must not depend on its report
        log.warning("report: could not write the report of run %s to %s: %s", ctx.run_id, folder, exc)
        return None


def show(config: C360Config, run_id: str | None = None) -> tuple[dict, str]:
    """The summary of a run's report (the latest when `run_id` is None) and the path of its page."""
    root = files.reports_root(config)
    run_id = run_id or files.latest_run(root)
    if run_id is None:
        raise C360Error(f"no run report under {root} yet (every `c360 run` writes one)")
    text = files.read_text(f"{root}/{run_id}", "summary.json")
    if text is None:
        raise C360Error(f"run {run_id} has no report under {root} (runs older than the last "
                        f"{config.silver.reports_keep_runs} are deleted)")
    return json.loads(text), f"{root}/{run_id}/index.html"
