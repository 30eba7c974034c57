"""MkDocs hooks: the reference pages rendered from the code, the benchmarks page from bench/results.

A page holds a marker comment (`<!-- c360:configuration -->`, `<!-- c360:tables -->`, `<!-- c360:benchmarks -->`)
where the generated part goes, so the prose around it stays hand-written and the facts come from one place:
the config's JSON Schema (c360.config_schema), the table registry (c360.table_registry) and the newest result
of each benchmark (scripts/bench_results.py). Plotly's script is added to the site as a file of its own, so
the pages load nothing from the network.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from mkdocs.structure.files import File, Files
from plotly.offline import get_plotlyjs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import bench_results  # noqa: E402

STAGES = ("bronze", "silver", "gold")
_PLOT_IDS = itertools.count(1)  # each plot's div id, unique within a build


def on_files(files: Files, config: Any) -> Files:
    """Add plotly's script as `assets/plotly.min.js` (the pages' extra_javascript)."""
    files.append(File.generated(config, "assets/plotly.min.js", content=get_plotlyjs()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replace each marker with what it stands for."""
    from c360.config_schema import config_schema
    from c360.table_registry import TABLES

    parts: dict[str, Callable[[], str]] = {
        "<!-- c360:configuration -->": lambda: configuration(config_schema()),
        "<!-- c360:tables -->": lambda: tables(TABLES),
        "<!-- c360:benchmarks -->": lambda: benchmarks(bench_results.latest()),
    }
    for marker, render in parts.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown


# --- configuration reference ------------------------------------------------------------------------------

def configuration(schema: dict[str, Any]) -> str:
    """One section per block of the YAML config (top level, silver.linkage, sources[].fields, ...), each a
    table of its keys with type, default and description."""
    defs = schema.get("$defs", {})
    out: list[str] = []

    def section(path: str, model: dict[str, Any]) -> None:
        rows, nested = [], []
        for key, prop in model.get("properties", {}).items():
            target, many = _model_ref(prop, defs)
            where = f"{path}.{key}" if path else key
            if target is not None:
                label = f"{where}[]" if many == "list" else f"{where}.NAME" if many == "map" else where
                nested.append((label, defs[target]))
                rows.append(f"| `{key}` | [{_type(prop, defs)}](#{_anchor(label)}) | {_default(prop)} | "
                            f"{_cell(prop.get('description', ''))} |")
            else:
                rows.append(f"| `{key}` | {_type(prop, defs)} | {_default(prop)} | {_cell(prop.get('description', ''))} |")
        title = path or "top level"
        out.append(f"## {title} {{#{_anchor(path or 'top')}}}\n\n{_cell(model.get('description', ''))}\n")
        required = model.get("required", [])
        if required:
            out.append("Required: " + ", ".join(f"`{r}`" for r in required) + ".\n")
        out.append("| key | type | default | description |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
        for label, child in nested:
            section(label, child)

    section("", schema)
    return "\n".join(out)


def _model_ref(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str | None, str | None]:
    """(model name, how) when the key holds a nested block: one ("one"), a list ("list"), a map ("map")."""
    options = prop.get("anyOf", [prop])
    for option in options:
        if "$ref" in option:
            return option["$ref"].rsplit("/", 1)[1], "one"
        if option.get("type") == "array" and "$ref" in option.get("items", {}):
            return option["items"]["$ref"].rsplit("/", 1)[1], "list"
        extra = option.get("additionalProperties")
        if option.get("type") == "object" and isinstance(extra, dict) and "$ref" in extra:
            return extra["$ref"].rsplit("/", 1)[1], "map"
    return None, None


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "$ref" in prop:
        return "section"
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"map to {_type(extra, defs)}" if isinstance(extra, dict) else "map"
    if kind == "null":
        return "null"
    bounds = [f"{s} {prop[k]}" for k, s in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                                           ("exclusiveMaximum", "<")) if k in prop]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-") or "top"


# --- table reference --------------------------------------------------------------------------------------

def tables(registry: Iterable[Any]) -> str:
    """One section per silver and gold table: what a row is, its key, and every column."""
    out = []
    for table in registry:
        rows = "\n".join(f"| `{c.name}`{' (key)' if c.key else ''} | `{c.type}` | {_cell(c.meaning)} |"
                         for c in table.columns)
        out.append(f"## {table.name} {{#{_anchor(table.name)}}}\n\n{table.purpose} One row per {table.row}; "
                   f"key: {', '.join(f'`{k}`' for k in table.key)}.\n\n| column | type | meaning |\n|---|---|---|\n{rows}\n")
    return "\n".join(out)


# --- benchmarks -------------------------------------------------------------------------------------------

def benchmarks(results: dict[str, dict[str, Any]]) -> str:
    """Per benchmark, the newest result: the command, commit, date and machine, its figures as a table and,
    where a comparison is the point, a plot. A known benchmark without a result says how to make one."""
    out = []
    for name in [*TITLES, *(n for n in results if n not in TITLES)]:
        out.append(f"## {TITLES.get(name, name)} {{#{_anchor(name)}}}\n")
        doc = results.get(name)
        if doc is None:
            out.append(f"Not measured with this layout yet: `{COMMANDS.get(name, 'python scripts/bench_*.py')}` writes it.\n")
            continue
        machine = doc.get("machine", {})
        out.append(f"`{doc['command']}` at commit `{doc['commit']}`{' (with local changes)' if doc.get('tree_changed') else ''}, "
                   f"{doc['date'][:10]}; {machine.get('cores')} cores, {machine.get('memory_gib')} GiB, Python "
                   f"{machine.get('python')}, Java {machine.get('java')}.\n")
        out.append(RENDERERS.get(name, _generic)(doc["figures"]))
    return "\n".join(out)


TITLES = {"pipeline": "The whole pipeline as it grows", "silver-quality": "Linkage quality against plain Splink", "silver-speed": "Linkage at speed",
          "silver-arrival": "A model that keeps up with deliveries", "incremental": "A batch against a full refresh",
          "bronze": "Bronze ingestion", "gold": "Gold against the truth", "stitching": "Deterministic stitching of a batch",
          "erase": "Erasure", "transparency": "Subject access export and pseudonymised analytics",
          "review": "Stewards in the loop: labels against the truth",
          "faults": "Faults: lock races and readers during a run",
          "crashes": "Crashes: processes killed at every place, on each engine",
          "damage": "Bad input at scale: a damaged landing against its manifest"}
COMMANDS = {"pipeline": "python scripts/bench.py --people 10000 100000 1000000 --silver-records 1000000 3000000",
            "silver-quality": "python scripts/bench_silver.py --guards",
            "silver-speed": "python scripts/bench_silver.py --sizes 10000 100000 1000000 --backends duckdb",
            "silver-arrival": "python scripts/bench_silver.py --arrival", "incremental": "python scripts/bench_incremental.py",
            "bronze": "python scripts/bench_bronze.py --people 100000",
            "gold": "python scripts/bench_gold.py --config conf/demo.yaml --truth demo/landing/truth",
            "stitching": "python scripts/bench_stitching.py", "erase": "python scripts/bench_erase.py --people 100000",
            "transparency": "python scripts/bench_transparency.py --people 100000",
            "review": "python scripts/bench_review.py", "faults": "python scripts/bench_faults.py --checks lock readers",
            "crashes": "python scripts/bench_faults.py --checks kills", "damage": "python scripts/bench_faults.py --checks damage"}


def _table(head: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) <= 1 else f"{v:,.1f}"  # shares and scores to four places, seconds to one
        if isinstance(v, int):
            return f"{v:,}"
        return _cell(str(v)) if v is not None else ""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _plot(fig: go.Figure) -> str:
    """A plot as a div and the script that draws it once the page (and plotly.min.js, which the theme loads
    after the content) is there."""
    fig.update_layout(height=360, margin={"l": 60, "r": 20, "t": 40, "b": 50}, template="plotly_white")
    div = f"c360-plot-{next(_PLOT_IDS)}"
    draw = (f"document.addEventListener('DOMContentLoaded', function () {{ var f = {fig.to_json()}; "
            f"Plotly.newPlot('{div}', f.data, f.layout, {{displaylogo: false, responsive: true}}); }});")
    return f'<div class="c360-plot" id="{div}"></div>\n<script>{draw}</script>\n'


def _quality(rows: list[dict[str, Any]]) -> str:
    body = []
    for r in rows:
        for who in ("c360", "peer"):
            m = r.get(who)
            if m:
                body.append([r["set"], "c360" if who == "c360" else "plain Splink", m["records"], m["comparisons"],
                             m["blocking_recall"], m["precision"], m["recall"], m["f1"], m["persons_split"],
                             m["clusters_merged_wrongly"]])
    fig = go.Figure([go.Bar(name=who, x=[r["set"] for r in rows], y=[r.get(key, {}).get("f1") for r in rows])
                     for who, key in (("c360", "c360"), ("plain Splink", "peer"))])
    fig.update_layout(title="pairwise F1 per set", yaxis={"range": [0.5, 1]}, barmode="group")
    out = _table(["set", "who", "records", "comparisons", "blocking recall", "P", "R", "F1", "persons split",
                  "clusters merged wrongly"], body) + "\n" + _plot(fig)
    guarded = [r for r in rows if r.get("guards")]
    if guarded:
        names = list(dict.fromkeys(g for r in guarded for g in r["guards"]))
        cells = [[name, *[f"{r['guards'][name]['true_pairs_kept_out']:,} / {r['guards'][name]['false_pairs_kept_out']:,}"
                          if name in r["guards"] else "" for r in guarded]] for name in names]
        out += ("\nWhat each guard keeps out: the same scored pairs clustered with that guard off (true / false "
                "linked pairs it keeps out; a negative count: pairs the guard lets in).\n\n"
                + _table(["guard", *[r["set"] for r in guarded]], cells))
    return out


def _speed(rows: list[dict[str, Any]]) -> str:
    steps = list(dict.fromkeys(k for r in rows for k in r.get("steps", {})))
    body = [[r["size"], r["who"], r["records"], r["comparisons"], *[r["steps"].get(s) for s in steps], r["seconds"],
             r["precision"], r["recall"], r["f1"]] for r in rows]
    fig = go.Figure([go.Scatter(name=who, mode="lines+markers", x=[r["records"] for r in rows if r["who"] == who],
                                y=[r["seconds"] for r in rows if r["who"] == who])
                     for who in dict.fromkeys(r["who"] for r in rows)])
    fig.update_layout(title="seconds by person records", xaxis={"type": "log", "title": "records"},
                      yaxis={"title": "seconds"})
    unfinished = "".join(f"\n{r['who']} at {r['size']:,} did not finish: {r['did_not_finish']}.\n"
                         for r in rows if r.get("did_not_finish"))
    return _table(["size", "who", "records", "comparisons", *[f"{s} (s)" for s in steps], "seconds", "P", "R", "F1"],
                  body) + unfinished + "\n" + _plot(fig)


def _arrival(rows: list[dict[str, Any]]) -> str:
    body = [[r["set"], f"{r['delivery']}/{r['of']}", r["records"],
             f"v{r['arrived']['model_version']}" if r["arrived"].get("model_version") else "none",
             r["arrived"].get("retrain"), r["arrived"]["f1"], r["at_once"]["f1"], r["difference"]] for r in rows]
    return _table(["set", "delivery", "records", "model", "retrain", "F1 as delivered", "F1 at once", "difference"], body)


def _incremental(rows: list[dict[str, Any]]) -> str:
    body = [[r["people"], r["stage"], r["run"], r.get("records"), r["wall_s"]] for r in rows]
    return _table(["people", "stage", "run", "rows", "seconds"], body)


def _pipeline(rows: list[dict[str, Any]]) -> str:
    """scripts/bench.py: every `c360 run` process per size, the growth slopes, the fixed batch's ratios and a
    log-log plot of first-load seconds (less the nothing-to-do run's) against size per stage."""
    runs = [r for r in rows if r["kind"] in ("run", "silver run")]
    out = _table(["people", "run", "wall (s)", "start (s)", *(f"{s} (s)" for s in STAGES), "person records",
                  "comparisons", "trained", "peak Python / JVM (MiB)", "F1", "tables rewritten whole"],
                 [[r["people"], r["run"] if r["kind"] == "run" else f"silver alone: {r['run']}", r["wall_s"], r["startup_s"],
                   *(r["stages"].get(s, {}).get("seconds") for s in STAGES), r["stages"].get("silver", {}).get("records"),
                   r["stages"].get("silver", {}).get("comparisons"), r["stages"].get("silver", {}).get("trained"),
                   f"{r['peak_memory_mib']['python']:,} / {r['peak_memory_mib']['jvm']:,}",
                   r.get("quality", {}).get("f1"), ", ".join(r["whole_rewrites"])] for r in runs])
    slopes = [r for r in rows if r["kind"] == "slope"]
    out += "\nGrowth: log(seconds ratio) / log(size ratio) between sizes, the nothing-to-do run's seconds taken off:\n\n"
    out += _table(["stage", "from", "to", "against", "slope", "against comparisons", "steepest steps"],
                  [[r["stage"], r["from"], r["to"], r["against"], r["slope"], r.get("slope_against_comparisons"),
                    ", ".join(f"{k} {v}" for k, v in sorted(r["steps"].items(), key=lambda kv: -(kv[1] or 0))[:3])]
                   for r in slopes])
    ratios = [r for r in rows if r["kind"] == "fixed batch ratio"]
    out += "\nThe fixed batch on a larger warehouse against a smaller one:\n\n"
    out += _table(["people", "against", "whole run", "without whole-table rewrites"],
                  [[r["to_people"], r["from_people"], r["whole"], r["without_whole_rewrites"]] for r in ratios])
    fig = go.Figure()
    for stage in STAGES:
        points = [(r["people"], r["stages"][stage]["seconds"]) for r in runs if r["kind"] == "run" and r["run"] == "first load"]
        fig.add_trace(go.Scatter(name=stage, mode="lines+markers", x=[p[0] for p in points], y=[p[1] for p in points]))
    fig.update_layout(title="first-load seconds per stage by people", xaxis={"type": "log", "title": "people"},
                      yaxis={"type": "log", "title": "seconds"})
    return out + "\n" + _plot(fig)


def _generic(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    body = [[json.dumps(r.get(k), separators=(",", ":")) if isinstance(r.get(k), (dict, list)) else r.get(k)
             for k in keys] for r in rows]
    return _table(keys, body)


def _erase(rows: list[dict[str, Any]]) -> str:
    """Erasures (time, what went, bytes rewritten per table) and lookups with and without person statistics."""
    runs = [r for r in rows if "erase" in r]
    out = _table(["people", "erase", "seconds (c360 erase process)", "records", "events", "rows removed", "bytes written"],
                 [[r["people"], r["erase"], r["wall_s"], r["records"], r["events"], sum(r["rows_removed"].values()),
                   sum(r["bytes_written"].values())] for r in runs])
    tables = sorted({t for r in runs for t in r["bytes_written"]})
    out += "\nBytes written per table (the files the erase rewrote, left after its purge):\n\n"
    out += _table(["table", *(r["erase"] for r in runs)], [[t, *(r["bytes_written"].get(t, 0) for r in runs)] for t in tables])
    lookups = [r for r in rows if r.get("lookup")]
    if lookups:
        out += "\nOne customer looked up (median of 5, seconds):\n\n"
        out += _table(["table", "lookup by", "statistics", "seconds"],
                      [[r["table"], r["lookup_by"], r["statistics"], r["median_s"]] for r in lookups])
    return out


def _transparency(rows: list[dict[str, Any]]) -> str:
    """Full gold runs without and with the analytics copies, and one person's export as JSON and HTML."""
    runs = [r for r in rows if "run" in r]
    out = _table(["people", "c360 process", "seconds"], [[r["people"], r["run"], r["wall_s"]] for r in runs])
    exports = [r for r in rows if "export" in r]
    out += "\nOne person's export (`c360 export-subject`, one process):\n\n"
    return out + _table(["people", "format", "seconds", "bytes", "tables", "rows"],
                        [[r["people"], r["export"], r["wall_s"], r["bytes"], r.get("tables"), r.get("rows")] for r in exports])


def _review(rows: list[dict[str, Any]]) -> str:
    """The learning curve per set (F1 and precision against labels given) and the interval's coverage."""
    steps = [r for r in rows if "labels" in r]
    curve = [r for r in steps if r.get("budget") != "retrained"]  # the last row per set: `c360 train --use-labels`
    out = _table(["set", "labels", "precision", "recall", "F1", "F1 on unlabelled pairs", "missed reachable pairs recovered",
                  "silver seconds"], [[r["set"], f"{r['labels']}{' + retrained' if r.get('budget') == 'retrained' else ''}",
                                       r["precision"], r["recall"], r["f1"], r["f1_unlabelled_pairs"],
                                       f"{r['recovered']} of {r['missed_reachable']}", r["silver_s"]] for r in steps])
    fig = go.Figure()
    for name in dict.fromkeys(r["set"] for r in curve):
        mine = [r for r in curve if r["set"] == name]
        fig.add_trace(go.Scatter(x=[r["labels"] for r in mine], y=[r["f1"] for r in mine], mode="lines+markers", name=f"{name} F1"))
        fig.add_trace(go.Scatter(x=[r["labels"] for r in mine], y=[r["precision"] for r in mine], mode="lines+markers",
                                 name=f"{name} precision", line={"dash": "dot"}))
    fig.update_layout(title="Learning curve: a simulated steward answers the review queue", xaxis_title="labels",
                      yaxis_title="against the truth")
    out += "\n" + _plot(fig) + "\n"
    covers = [r for r in rows if r.get("coverage")]
    if covers:
        out += "\nThe 95 % interval of `c360 evaluate --labels` from random labelled links, resampled:\n\n"
        out += _table(["set", "true precision", "sample", "resamples", "covered"],
                      [[r["set"], r["true_precision"], r["sample"], r["resamples"], r["covered"]] for r in covers])
    return out


RENDERERS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "pipeline": _pipeline,
    "silver-quality": _quality, "silver-speed": _speed, "silver-arrival": _arrival, "incremental": _incremental,
    "erase": _erase, "transparency": _transparency, "review": _review}
