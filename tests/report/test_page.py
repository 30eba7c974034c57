"""The report page: a plot for every figure the summary has, nothing loaded from the network, values escaped."""

from __future__ import annotations

import re

from c360.report.figures import figures
from c360.report.page import render

SUMMARY = {
    "run_id": "20260101T000000.000000Z-a", "finished_at": "2026-01-01T00:01:00+00:00", "status": "failed",
    "failures": ["gold: <script>alert(1)</script> failed"], "warehouse": "/w", "engine": {"name": "delta-rs", "why": "test"},
    "spark_master": "local[2]", "versions": {"c360": "0.1.0"},
    "stages": {"bronze": {"status": "done", "seconds": 3.0, "seconds_per_step": {"source crm": 2.0, "source shop": 1.0}}},
    "tables": {"bronze": {"crm": 10, "shop": 5}, "silver": {"identity_map": 15}, "gold": {}},
    "quarantine": [{"source": "crm", "reason": "missing_id", "records": 2}],
    "linkage": {"run_id": "r", "person_records": 15, "customers": 9, "comparisons": 40, "model_version": 1,
                "backend": {"name": "duckdb"}, "match_weights": [[-3.0, 10], [12.0, 4]], "cluster_sizes": [[1, 5], [2, 3], [4, 1]],
                "churn": {"customers_created": 1200, "customers_merged": 3}},
    "gold": {"completeness": {"first_name": 0.98, "email": 0.7}},
}


def test_every_figure_with_data_is_plotted() -> None:
    assert set(figures(SUMMARY)) == {"records_per_source", "quarantine_reasons", "match_weights", "cluster_sizes",
                                     "completeness", "stage_timings"}
    assert set(figures({"stages": {}})) == set(), "no data, no empty plot"


def test_the_page_loads_nothing_from_the_network_and_escapes_values() -> None:
    html = render(SUMMARY, ["match_weights.html"], "../_assets/plotly.min.js")
    assert len(re.findall(r'<div class="chart" id="chart-', html)) == 6
    assert re.findall(r'<script src="([^"]+)"', html) == ["../_assets/plotly.min.js"]
    assert "https://" not in html and "http://" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    assert '<a href="match_weights.html">' in html and "personal data" in html
    assert re.search(r'<td>customers created</td><td class="n">1,200</td>', html)
