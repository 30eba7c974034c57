"""The report's plots, made with plotly from the figures of summary.json: each is a function of the summary
alone, so a page can be re-rendered from a stored summary."""

from __future__ import annotations

import plotly.graph_objects as go

HEIGHT = 340


def _styled(figure: go.Figure, title: str, height: int = HEIGHT, **layout: object) -> go.Figure:
    """The report's common look: title, height, margins, a white template."""
    # automargin: long category names (sources, fields) get room instead of being cut at the edge
    figure.update_layout(title=title, height=height, margin={"t": 50, "b": 40, "l": 60, "r": 20},
                         template="plotly_white", xaxis_automargin=True, yaxis_automargin=True, **layout)
    return figure


def _bar(title: str, x: list, y: list, x_title: str, y_title: str, log_y: bool = False) -> go.Figure:
    figure = _styled(go.Figure(go.Bar(x=x, y=y)), title, xaxis_title=x_title, yaxis_title=y_title)
    if log_y:
        figure.update_yaxes(type="log")
    return figure


def records_per_source(summary: dict) -> go.Figure | None:
    """Bar chart of bronze rows per source; None without bronze tables."""
    bronze = summary.get("tables", {}).get("bronze", {})
    if not bronze:
        return None
    names = sorted(bronze)
    return _bar("Records per source (bronze)", names, [bronze[n] for n in names], "source", "records")


def quarantine_reasons(summary: dict) -> go.Figure | None:
    """Stacked bars of quarantined records per source and reason; None when nothing was quarantined."""
    rows = summary.get("quarantine", [])
    if not rows:
        return None
    figure = go.Figure()
    for source in sorted({r["source"] for r in rows}):
        mine = [r for r in rows if r["source"] == source]
        figure.add_bar(name=source, x=[r["reason"] for r in mine], y=[r["records"] for r in mine])
    return _styled(figure, "Quarantined records by reason", barmode="stack", xaxis_title="reason", yaxis_title="records")


def match_weights(summary: dict) -> go.Figure | None:
    """Histogram of the scored pairs' match weights; None before linkage ran."""
    bins = summary.get("linkage", {}).get("match_weights", [])
    if not bins:
        return None
    return _bar("Match weight of scored pairs (silver.match_pairs)", [b for b, _ in bins], [c for _, c in bins],
                "match weight (bits)", "pairs", log_y=True)


def cluster_sizes(summary: dict) -> go.Figure | None:
    """Histogram of records per customer; None before linkage ran."""
    sizes = summary.get("linkage", {}).get("cluster_sizes", [])
    if not sizes:
        return None
    return _bar("Records per customer", [s for s, _ in sizes], [c for _, c in sizes], "records", "customers", log_y=True)


def completeness(summary: dict) -> go.Figure | None:
    """Share of profiles holding each golden field; None before gold ran."""
    shares = (summary.get("gold") or {}).get("completeness") or {}
    if not shares:
        return None
    names = sorted(shares, key=lambda n: -shares[n])
    figure = _bar("Golden-field completeness (share of profiles)", names, [shares[n] for n in names], "field", "share")
    figure.update_yaxes(range=[0, 1])
    return figure


def stage_timings(summary: dict) -> go.Figure | None:
    """Seconds per stage and step of the run."""
    stages = summary.get("stages", {})
    if not stages:
        return None
    figure = go.Figure()
    steps = [(stage, step, s) for stage, info in stages.items() for step, s in (info.get("seconds_per_step") or {}).items()]
    for stage, step, seconds in steps:
        figure.add_bar(name=f"{stage}: {step}", x=[stage], y=[seconds])
    if not steps:
        figure.add_bar(x=list(stages), y=[info.get("seconds") or 0 for info in stages.values()])
    return _styled(figure, "Seconds per stage and step (this run)", HEIGHT + 80, barmode="stack", yaxis_title="seconds")


ALL = {"records_per_source": records_per_source, "quarantine_reasons": quarantine_reasons,
       "match_weights": match_weights, "cluster_sizes": cluster_sizes, "completeness": completeness,
       "stage_timings": stage_timings}


def figures(summary: dict) -> dict[str, go.Figure]:
    """Every plot the summary has data for, by name."""
    made = {name: make(summary) for name, make in ALL.items()}
    return {name: fig for name, fig in made.items() if fig is not None}
