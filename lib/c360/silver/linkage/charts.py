"""Splink's charts of a run: the model (match weights, m/u parameters), waterfalls of a sample of scored
pairs, and the cluster studio of a sample of clusters, as HTML files in the run's report folder."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from splink import Linker

from c360.silver.linkage.backends.base import LinkageBackend

REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']?https?://[^>]*>\s*", re.IGNORECASE)
BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)
PERSONAL_NOTICE = ('<p class="c360-personal-data" style="background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .8rem;'
                   'font-family:system-ui,sans-serif">Personal data: this page shows record values (names, e-mails, '
                   'phones, addresses). Keep it as protected as the warehouse.</p>')


def write_charts(linker: Linker, predictions: object, folder: str, sample: int = 10) -> list[str]:
    """Splink's model charts (match weights, m/u parameters) and waterfall charts of a sample of scored
    pairs, as HTML files in `folder`; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    charts = {
        "match_weights.html": linker.visualisations.match_weights_chart(),
        "m_u_parameters.html": linker.visualisations.m_u_parameters_chart(),
        "waterfall_sample.html": linker.visualisations.waterfall_chart(
            predictions.as_record_list(limit=sample), filter_nulls=True),  # type: ignore[attr-defined]
    }
    written = []
    for name, chart in charts.items():
        path = os.path.join(folder, name)
        chart.save(path, inline=True)   # with Vega's scripts inside: the report loads nothing from the network
        written.append(path)
    marked_personal(os.path.join(folder, "waterfall_sample.html"))
    return written


def cluster_studio(backend: LinkageBackend, linker: Linker, predictions: object, clusters: DataFrame,
                   records: DataFrame, path: str, sample: int = 10) -> str:
    """Splink's cluster studio for a sample of multi-record clusters, as one HTML file."""
    sized = clusters.groupBy("component").count().where("count > 1").orderBy(F.desc("count"), "component")
    ids = [r.component for r in sized.limit(sample).collect()]
    chosen = clusters.where(F.col("component").isin(ids)).withColumnRenamed("component", "cluster_id")
    clustered = backend.small_table(records.join(chosen, "record_key"))
    frame = linker._db_api.register(clustered)  # noqa: SLF001 - Splink needs its own table handle
    linker.visualisations.cluster_studio_dashboard(predictions, frame, path, cluster_ids=ids, overwrite=True)
    without_remote_links(path)
    marked_personal(path)
    return path


def _rewrite(path: str, change: Callable[[str], str]) -> None:
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(change(text))


def without_remote_links(path: str) -> None:
    """Drop the <link> tags of a page that point at the network. Splink's cluster studio inlines its scripts
    but links a web font (Google Fonts); clusters and CI have no general internet, so the page falls back to
    a local font instead of logging a failed request."""
    _rewrite(path, lambda text: REMOTE_LINK.sub("", text))


def marked_personal(path: str) -> None:
    """Put a personal-data notice at the top of a page that shows record values (waterfalls, cluster studio)."""
    _rewrite(path, lambda text: BODY.sub(lambda m: m.group(0) + PERSONAL_NOTICE, text, count=1))
