"""The whole pipeline at growing sizes, each run one `c360 run` process started the way a scheduler starts it.

    python scripts/bench.py --people 10000 100000 1000000 [--silver-records 1000000 3000000] [--work DIR]

Per number of people (person sources with their events; each batch generated once per size into the work folder
and delivered into the landing before its run; a later call takes up the work folder: a size whose results are
there is not run again unless --again, and a size stopped between two runs goes on from the last finished one):

1. first load: batch 1 landed, `c360 run` (bronze, silver with the model trained, gold);
2. nothing to do: `c360 run` again (what every run pays before its data: process start, reading the state);
3. a 1 % batch: batch 2 with `--fraction 0.01`, `c360 run`;
4. a fixed batch: batch 3 sized to about --fixed-records changed person records (10,000) whatever the size,
   `c360 run` (the batch that must cost what it changes, not what the warehouse holds).

Per number of person records in --silver-records: person sources only, `c360 run --stage bronze`, then
`c360 run --stage silver` measured, and a silver run with nothing to do.

Every run: wall time, seconds per stage and step, records per second, comparisons, peak memory of driver
Python and JVM, whether the model was trained, and the Delta bytes added and removed per table (the add and
remove actions of the commits it made); after the first load and the fixed batch, F1 against the generator's
truth (`c360 evaluate`). Then the growth slopes: per stage and step, log(time ratio) / log(size ratio) between
consecutive sizes, after subtracting the nothing-to-do run's stage time (fixed costs would flatter a slope);
silver also against comparisons. The results go through bench_results ("pipeline"), with a log-log plot of
seconds against size per stage beside them (SVG, needs matplotlib: `pip install -e .[bench]`).

Runs use `driver_memory: 4g` and DuckDB at 4 GB, the memory bound the docs state for 1M people.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from bench_incremental import write_config  # noqa: E402
from c360.datagen.generate import generate  # noqa: E402

LAYERS = ("bronze", "silver", "gold")
STAGES = ("bronze", "silver", "gold")


# --- one process ------------------------------------------------------------------------------------------

def log_versions(warehouse: Path) -> dict[str, int]:
    """`layer.table` -> its newest commit version, from the commit files in `_delta_log`."""
    out = {}
    for layer in LAYERS:
        for log in sorted((warehouse / layer).glob("*/_delta_log")):
            commits = [int(p.stem) for p in log.glob("*.json") if p.stem.isdigit()]
            if commits:
                out[f"{layer}.{log.parent.name}"] = max(commits)
    return out


def bytes_moved(warehouse: Path, before: dict[str, int], after: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per table a run committed to: bytes and files its commits added and removed (Delta's add and remove
    actions; a remove without a size counts its file only), and the table's bytes before the run."""
    moved = {}
    for table, newest in after.items():
        first = before.get(table, -1) + 1
        if newest < first:
            continue
        log = warehouse / table.replace(".", "/", 1) / "_delta_log"
        tally = {"added_bytes": 0, "removed_bytes": 0, "added_files": 0, "removed_files": 0}
        for version in range(first, newest + 1):
            for line in (log / f"{version:020d}.json").read_text().splitlines():
                action = json.loads(line)
                for kind, done in (("add", "added"), ("remove", "removed")):
                    if kind in action:
                        tally[f"{done}_bytes"] += action[kind].get("size") or 0
                        tally[f"{done}_files"] += 1
        moved[table] = tally
    return moved


def whole_rewrites(moved: dict[str, dict[str, int]], held: dict[str, int]) -> list[str]:
    """Tables a run rewrote (nearly) whole: it removed at least half the bytes the table held before (`held`).
    Half, not all: a copy-on-write MERGE of spread-out changes rewrites every file that holds one of them, and
    leaves only the files of sources or partitions the batch did not reach."""
    return sorted(t for t, m in moved.items() if held.get(t) and m["removed_bytes"] >= 0.5 * held[t])


def held_bytes(runs: list[dict[str, Any]]) -> dict[str, int]:
    """`layer.table` -> bytes of its live files after `runs` (a size's runs so far, from an empty warehouse):
    what they added less what they removed. Not the folder's bytes: the files a MERGE replaced stay there until
    a vacuum."""
    held: dict[str, int] = {}
    for run in runs:
        for table, m in run["bytes"].items():
            held[table] = held.get(table, 0) + m["added_bytes"] - m["removed_bytes"]
    return held


def with_rewrites(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`runs` with each one's whole_rewrites (taken again: results kept from an earlier call may have measured
    them against the folder's bytes)."""
    return [{**run, "whole_rewrites": whole_rewrites(run["bytes"], held_bytes(runs[:i]))} for i, run in enumerate(runs)]


def c360_run(config: Path, label: str, earlier: list[dict[str, Any]], *extra: str) -> dict[str, Any]:
    """One `c360 run` process after the size's `earlier` runs: wall time, each stage's summary figures, the
    commits' bytes per table and which tables it rewrote whole."""
    warehouse = Path(yaml.safe_load(config.read_text())["warehouse"])
    before = log_versions(warehouse)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "c360.cli", "run", "--config", str(config), *extra],
                          stdout=subprocess.PIPE, text=True, check=False)
    wall = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        raise SystemExit(f"c360 run ({label}) failed (exit {done.returncode}; its log is above)")
    stages = json.loads(done.stdout)["stages"]
    moved = bytes_moved(warehouse, before, log_versions(warehouse))
    row = {"run": label, "wall_s": wall, "stages": {s: _stage_figures(s, stages[s]) for s in STAGES if s in stages},
           "bytes": moved, "whole_rewrites": whole_rewrites(moved, held_bytes(earlier))}
    row["startup_s"] = round(wall - sum(s["seconds"] for s in row["stages"].values()), 1)
    row["peak_memory_mib"] = {k: max((s["peak_memory_mib"].get(k, 0) for s in row["stages"].values()), default=0)
                              for k in ("python", "jvm")}
    print(json.dumps({k: v for k, v in row.items() if k != "bytes"}), flush=True)
    return row


def _stage_figures(stage: str, summary: dict[str, Any]) -> dict[str, Any]:
    """What the benchmark keeps of a stage's run summary."""
    figures = {"seconds": summary.get("seconds", 0.0), "status": summary.get("status", "ran"),
               "mode": summary.get("mode"), "peak_memory_mib": summary.get("peak_memory_mib", {}),
               "seconds_per_step": {k: round(v, 1) for k, v in summary.get("seconds_per_step", {}).items()}}
    if stage == "bronze":
        figures["records"] = sum(s.get("written", 0) for s in summary.get("sources", {}).values())
    elif stage == "silver":
        figures.update(records=summary.get("person_records"), comparisons=summary.get("comparisons"),
                       trained="training" in (summary.get("linkage") or {}), model_version=summary.get("model_version"),
                       customers=summary.get("customers"), interactions=summary.get("interactions"),
                       clustering_engine=(summary.get("clustering_engine") or {}).get("name"),
                       write_seconds=summary.get("write_seconds", {}))
    else:
        figures.update(records=(summary.get("tables") or {}).get("customer_profile"),
                       every_customer_seconds=summary.get("every_customer_seconds", {}))
    if figures.get("records") and figures["seconds"]:
        figures["records_per_s"] = round(figures["records"] / figures["seconds"])
    return figures


def f1(config: Path, truth: Path) -> dict[str, Any]:
    """`c360 evaluate` of silver's identity map against the generator's truth: precision, recall, F1."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    subprocess.run([sys.executable, "-m", "c360.cli", "evaluate", "--config", str(config), "--truth", str(truth),
                    "--json", str(out)], stdout=subprocess.DEVNULL, check=True)
    result = json.loads(out.read_text())
    out.unlink()
    return {k: result[k] for k in ("precision", "recall", "f1")}


# --- one size ---------------------------------------------------------------------------------------------

def person_records(config: Path, landing: Path, batch: int) -> int:
    """Person records batch `batch` of the generator's landing holds for the config's person sources."""
    person = {s["name"] for s in yaml.safe_load(config.read_text())["sources"] if s["kind"] == "person"}
    manifest = json.loads((landing / "truth" / f"manifest_b{batch:02d}.json").read_text())
    return sum(v["records"] for k, v in manifest["sources"].items() if k in person)


def pipeline_size(people: int, args: argparse.Namespace) -> dict[str, Any]:
    """The four runs of one number of people (see the module), resumed from the work folder run by run."""
    work = Path(args.work) / f"people-{people}"
    done = work / "result.json"
    if done.exists() and not args.again:
        return json.loads(done.read_text())
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work, person_only=False, engine=args.engine)
    landing, truth = work / "landing", work / "landing" / "truth"
    progress = Progress(work, args.again)
    delivered = Deliveries(work, people, args.seed)
    delivered.batch(1, None)
    progress.run(config, "first load", lambda row: row.update(quality=f1(config, truth)))
    progress.run(config, "nothing to do")
    delivered.batch(2, args.fraction)
    progress.run(config, f"batch of {args.fraction:.0%}")
    per_share = person_records(config, landing, 2) / args.fraction  # changed person records per unit of fraction
    fixed = min(1.0, args.fixed_records / per_share)
    delivered.batch(3, fixed)
    progress.run(config, "fixed batch", lambda row: row.update(person_records_in_batch=person_records(config, landing, 3),
                                                               quality=f1(config, truth)))
    result = {"kind": "pipeline", "people": people, "engine": args.engine, "fixed_fraction": round(fixed, 6),
              "code": progress.code, "runs": progress.runs}
    done.write_text(json.dumps(result, indent=1) + "\n")
    progress.path.unlink()
    return result


class Deliveries:
    """The generator's batches of one size, written once into `generated/` and delivered into `landing/` (hard
    links) one at a time, so that a size started over lands batch 1 alone again without generating anew."""

    def __init__(self, work: Path, people: int, seed: int) -> None:
        self.generated, self.landing, self.people, self.seed = work / "generated", work / "landing", people, seed

    def batch(self, batch: int, fraction: float | None) -> None:
        """Batch `batch` generated (once) and in the landing, its truth included."""
        _generated(self.generated, self.people, self.seed, batch, fraction)
        tag = f"_b{batch:02d}"
        for source in self.generated.rglob(f"*{tag}*"):
            target = self.landing / source.relative_to(self.generated)
            if source.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(source, target)


class Progress:
    """The finished runs of one size, kept after each run so that a stopped benchmark takes up where it was.

    A size resumes only on the code it started on and only when the warehouse's tables are at the versions the
    last finished run left: a run stopped half way has committed part of its work, and timing its re-run would
    measure less than a run does, so the size starts over instead."""

    def __init__(self, work: Path, again: bool) -> None:
        self.path, self.warehouse = work / "progress.json", work / "warehouse"
        self.code, self.runs = bench_results.commit_state(), []
        kept = json.loads(self.path.read_text()) if self.path.exists() and not again else None
        if kept and kept["code"] == self.code and kept["versions"] == log_versions(self.warehouse):
            self.runs = kept["runs"]
            print(f"{work.name}: taking up after {', '.join(r['run'] for r in self.runs)}", flush=True)
        else:  # a size starts over from no warehouse and an empty landing (Deliveries lands batch 1 again)
            shutil.rmtree(self.warehouse, ignore_errors=True)
            shutil.rmtree(work / "landing", ignore_errors=True)

    def run(self, config: Path, label: str, after: Callable[[dict[str, Any]], None] | None = None) -> None:
        """`c360 run` as `label` unless it finished before; `after` adds figures taken once it is done."""
        if any(r["run"] == label for r in self.runs):
            return
        row = c360_run(config, label, self.runs)
        if after:
            after(row)
        self.runs.append(row)
        self.path.write_text(json.dumps({"code": self.code, "versions": log_versions(self.warehouse),
                                         "runs": self.runs}, indent=1) + "\n")


def silver_size(records: int, args: argparse.Namespace) -> dict[str, Any]:
    """Silver alone over about `records` person records (person sources only), resumed from the work folder."""
    work = Path(args.work) / f"silver-{records}"
    done = work / "result.json"
    if done.exists() and not args.again:
        return json.loads(done.read_text())
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work, person_only=True, engine=args.engine)
    people = max(1, round(records / args.records_per_person))
    _generated(work / "landing", people, args.seed, 1, None)
    shutil.rmtree(work / "warehouse", ignore_errors=True)
    runs = [c360_run(config, "bronze", [], "--stage", "bronze")]
    for label in ("first load", "nothing to do"):
        runs.append(c360_run(config, label, runs, "--stage", "silver"))
    landed = runs.pop(0)
    runs[0]["quality"] = f1(config, work / "landing" / "truth")
    result = {"kind": "silver", "people": people, "engine": args.engine, "code": bench_results.commit_state(),
              "records": runs[0]["stages"]["silver"]["records"],
              "bronze_s": landed["wall_s"], "runs": runs}
    done.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _generated(landing: Path, people: int, seed: int, batch: int, fraction: float | None) -> None:
    """Batch `batch` in `landing`, written once (its manifest says it is complete)."""
    if not (landing / "truth" / f"manifest_b{batch:02d}.json").exists():
        generate(people, landing, seed=seed, batch=batch, fraction=fraction)


# --- growth -----------------------------------------------------------------------------------------------

def slope(t1: float, t2: float, n1: float, n2: float) -> float | None:
    """log(t2 / t1) / log(n2 / n1): 1 is linear growth, None when a time or size is not positive."""
    if min(t1, t2, n1, n2) <= 0 or n1 == n2:
        return None
    return round(math.log(t2 / t1) / math.log(n2 / n1), 3)


def _run(result: dict[str, Any], label: str) -> dict[str, Any]:
    return next(r for r in result["runs"] if r["run"] == label)


def _net(result: dict[str, Any], stage: str, step: str | None = None) -> float:
    """A stage's (or step's) first-load seconds less its nothing-to-do seconds."""
    first, idle = _run(result, "first load")["stages"][stage], _run(result, "nothing to do")["stages"][stage]
    if step is None:
        return first["seconds"] - idle["seconds"]
    return first["seconds_per_step"].get(step, 0.0) - idle["seconds_per_step"].get(step, 0.0)


def slopes(results: list[dict[str, Any]], stage: str, size: str) -> list[dict[str, Any]]:
    """Between consecutive sizes: the stage's slope against `size` (people or records), each step's, and
    silver's against comparisons."""
    out = []
    for small, large in zip(results, results[1:]):
        n1, n2 = _size(small, stage, size), _size(large, stage, size)
        row = {"stage": stage, "from": n1, "to": n2, "against": size,
               "slope": slope(_net(small, stage), _net(large, stage), n1, n2)}
        steps = _run(large, "first load")["stages"][stage]["seconds_per_step"]
        row["steps"] = {s: slope(_net(small, stage, s), _net(large, stage, s), n1, n2) for s in steps}
        if stage == "silver":
            c1, c2 = (_run(r, "first load")["stages"]["silver"]["comparisons"] for r in (small, large))
            row["slope_against_comparisons"] = slope(_net(small, stage), _net(large, stage), c1 or 0, c2 or 0)
        out.append(row)
    return out


def _size(result: dict[str, Any], stage: str, size: str) -> float:
    return result["people"] if size == "people" else _run(result, "first load")["stages"][stage]["records"]


def batch_ratio(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """The fixed batch on the larger warehouse against the smaller one: whole runs, and without the seconds
    of the writes that rewrote their whole table."""
    a, b = _run(small, "fixed batch"), _run(large, "fixed batch")

    def rewrite_seconds(run: dict[str, Any]) -> float:
        """Seconds of the writes that rewrote their whole table: silver's per table, gold's publish steps."""
        writes = {**run["stages"].get("silver", {}).get("write_seconds", {}),
                  **{step.removeprefix("write "): s for step, s in
                     run["stages"].get("gold", {}).get("seconds_per_step", {}).items() if step.startswith("write ")}}
        return sum(writes.get(t, 0.0) for t in run["whole_rewrites"])

    return {"from_people": small["people"], "to_people": large["people"], "whole": round(b["wall_s"] / a["wall_s"], 3),
            "without_whole_rewrites": round((b["wall_s"] - rewrite_seconds(b)) / (a["wall_s"] - rewrite_seconds(a)), 3),
            "whole_rewrites": b["whole_rewrites"]}


# --- output -----------------------------------------------------------------------------------------------

def plot(pipeline: list[dict[str, Any]], silver: list[dict[str, Any]], target: Path) -> None:
    """Seconds (first load, less the nothing-to-do run) against size per stage, log-log, slopes in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {f"{s} (people)": [(r["people"], _net(r, s)) for r in pipeline] for s in STAGES}
    if silver:
        series["silver alone (records)"] = [(r["records"], _net(r, "silver")) for r in silver]
    for name, points in series.items():
        points = [(n, t) for n, t in points if n > 0 and t > 0]
        if len(points) < 2:
            continue
        ends = slope(points[0][1], points[-1][1], points[0][0], points[-1][0])
        ax.plot(*zip(*points), marker="o", label=f"{name}: slope {ends}")
    ax.set(xscale="log", yscale="log", xlabel="size", ylabel="seconds (less the nothing-to-do run)",
           title="c360: first-load seconds against size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, format="svg")


def report(pipeline: list[dict[str, Any]], silver: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print the figures; return the rows bench_results records."""
    rows: list[dict[str, Any]] = []
    pipeline = [{**result, "runs": with_rewrites(result["runs"])} for result in pipeline]
    codes = {json.dumps(r.get("code")) for r in [*pipeline, *silver]}
    if len(codes) > 1:  # sizes are kept in the work folder between calls: say when code moved in between
        print(f"WARNING: the sizes ran on different code: {', '.join(sorted(codes))} (--again runs them anew)")
    for result in pipeline:
        for run in result["runs"]:
            stages = ", ".join(f"{s} {f['seconds']}s" for s, f in run["stages"].items())
            print(f"{result['people']:>9,} people  {run['run']:<14} {run['wall_s']:>8}s  ({stages}; start "
                  f"{run['startup_s']}s)  peak MiB {run['peak_memory_mib']}  rewrites {run['whole_rewrites']}"
                  f"{'  ' + json.dumps(run['quality']) if 'quality' in run else ''}")
            rows.append({"kind": "run", "people": result["people"], **run})
    for result in silver:
        run = _run(result, "first load")
        print(f"silver alone {result['records']:>9,} records: {run['stages']['silver']['seconds']}s, "
              f"{run['stages']['silver']['comparisons']:,} comparisons, {json.dumps(run.get('quality'))}")
        rows += [{"kind": "silver run", "people": result["people"], "records": result["records"], **r}
                 for r in result["runs"]]
    growth = [*(g for s in STAGES for g in slopes(pipeline, s, "people" if s == "gold" else "records")),
              *slopes(silver, "silver", "records")]
    for g in growth:
        print(f"slope {g['stage']:<6} {g['from']:>10,} -> {g['to']:>10,} {g['against']}: {g['slope']}"
              f"{'  against comparisons ' + str(g['slope_against_comparisons']) if 'slope_against_comparisons' in g else ''}")
    rows += [{"kind": "slope", **g} for g in growth]
    for small, large in zip(pipeline, pipeline[1:]):
        ratio = batch_ratio(small, large)
        print(f"fixed batch {ratio['to_people']:,} / {ratio['from_people']:,} people: {ratio['whole']} whole, "
              f"{ratio['without_whole_rewrites']} without whole-table rewrites {ratio['whole_rewrites']}")
        rows.append({"kind": "fixed batch ratio", **ratio})
    for result in pipeline:
        share = _run(result, "batch of 1%")["wall_s"] / _run(result, "first load")["wall_s"]
        rows.append({"kind": "batch against first load", "people": result["people"], "ratio": round(share, 3)})
        print(f"1 % batch / first load at {result['people']:,} people: {share:.2f}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--silver-records", type=int, nargs="*", default=[],
                        help="silver alone at about these numbers of person records (person sources only)")
    parser.add_argument("--fraction", type=float, default=0.01, help="the proportional batch's share of the people")
    parser.add_argument("--fixed-records", type=int, default=10_000, help="person records of the fixed batch")
    parser.add_argument("--records-per-person", type=float, default=1.5,
                        help="the generator's person records per person, to size --silver-records")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engine", choices=("delta-rs", "delta-spark"), default="delta-rs",
                        help="the Delta engine of every run (the embedded default unless told)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench"),
                        help="data and finished sizes, kept for the next call")
    parser.add_argument("--again", action="store_true", help="run sizes whose results the work folder holds")
    args = parser.parse_args()
    pipeline = [pipeline_size(p, args) for p in sorted(args.people)]
    silver = [silver_size(r, args) for r in sorted(args.silver_records)]
    rows = report(pipeline, silver)
    target = bench_results.record("pipeline", rows)
    try:
        plot(pipeline, silver, target.with_suffix(".svg"))
    except ImportError:
        print("no plot: matplotlib is not installed (pip install -e .[bench])", file=sys.stderr)
    print(f"work folder {args.work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
