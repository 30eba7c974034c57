"""The `c360` command line: thin wrappers over the library, with errors as messages, not tracebacks.

Exit codes: 0 success, 1 a user error (bad config, bad input; the message says what and where), 2 a usage
error. `--debug` shows the traceback of any error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from py4j.protocol import Py4JError

from c360.config import LAYERS
from c360.errors import C360Error
from c360.progress import configure_logging

if TYPE_CHECKING:  # commands import the library late, so `c360 --help` starts fast
    from c360.pipeline import RunContext
    from c360.privacy.subjects import Request

log = logging.getLogger("c360")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c360", description="Customer 360 on Spark, Delta Lake and Splink.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write synthetic multi-source demo data with ground truth",
                         description="Write synthetic CRM, shop, loyalty, support, social and web data for N "
                                     "people into DIR, with ground truth under DIR/truth.")
    gen.add_argument("--people", type=int, required=True, help="number of true people (batch 1)")
    gen.add_argument("--out", required=True, help="landing folder to write into")
    gen.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    group = gen.add_mutually_exclusive_group()
    group.add_argument("--delta", action="store_true", help="write the next later batch (new people, changed "
                                                            "records, new events) beside the existing files")
    group.add_argument("--batch", type=int, help="write this batch number (1 = initial load)")
    gen.add_argument("--fraction", type=float, help="a later batch's new and changed people together, as a share of "
                                                    "--people (default 0.08); its events in proportion")

    run = sub.add_parser("run", help="run the pipeline stages", description="Run bronze, silver and gold "
                                                                           "(incremental where possible).")
    _config_arg(run)
    run.add_argument("--stage", default="all", choices=["bronze", "silver", "gold", "all"])
    run.add_argument("--full-refresh", action="store_true", help="rebuild derived tables from bronze")
    run.add_argument("--run-id", help="reuse a run id to retry a failed run (its committed writes are skipped)")
    run.add_argument("--accept-retrain", action="store_true",
                     help="apply a retrain of the linkage model even when it moves more customers than "
                          "silver.linkage.max_retrain_churn")

    sql = sub.add_parser("sql", help="run Spark SQL over bronze.<t>, silver.<t>, gold.<t>",
                         description="Run a Spark SQL query over the warehouse's tables.")
    _config_arg(sql)
    sql.add_argument("query", help='e.g. "SELECT count(*) FROM bronze.crm_contacts"')
    sql.add_argument("--format", default="table", choices=["table", "csv", "json", "parquet"])
    sql.add_argument("--output", help="write the result here (required for parquet)")
    sql.add_argument("--limit", type=int, default=50, help="rows to print as a table (default 50)")
    sql.add_argument("--latest", action="store_true",
                     help="read every table as it stands, not as the last completed runs left it")

    evaluate = sub.add_parser("evaluate", help="measure silver.identity_map against ground truth or a steward's labels",
                              description="Pairwise precision/recall/F1 and cluster measures of silver.identity_map "
                                          "against a CSV of (source, source_record_id, true_id); or, with --labels, "
                                          "precision and recall estimated from the labelled random sample of the "
                                          "review queue, with 95% intervals.")
    _config_arg(evaluate)
    against = evaluate.add_mutually_exclusive_group(required=True)
    against.add_argument("--truth", nargs="+",
                         help="ground-truth CSV file(s), glob(s) or folder(s) (every CSV there with the truth columns)")
    against.add_argument("--labels", action="store_true", help="estimate from steward.labels' random-sample labels")
    evaluate.add_argument("--json", dest="json_out", help="also write the result as JSON to this file")
    evaluate.add_argument("--charts", help="with --labels: the folder for Splink's threshold selection and accuracy "
                                           "charts of the labelled pairs (default: labels/ in the reports folder)")

    train = sub.add_parser("train", help="train a new version of the Splink linkage model",
                           description="Estimate the linkage model on the current person records and save it as "
                                       "the next version; later runs predict with it.")
    _config_arg(train)
    train.add_argument("--rollback", action="store_true",
                       help="train nothing: make the version before the current one current again")
    train.add_argument("--use-labels", action="store_true",
                       help="train on the steward's labels too (m from the labelled matches, the threshold from "
                            "the labels) and tell what changed on the labelled pairs")

    server = sub.add_parser("sql-server", help="serve the gold tables over JDBC/ODBC (Spark Thrift server)",
                            description="Start Spark's Thrift JDBC/ODBC server with gold.<table> views of the "
                                        "current Delta snapshots; connect with beeline or a BI tool.")
    _config_arg(server)
    server.add_argument("--host", default="localhost", help="address to listen on (default localhost)")
    server.add_argument("--port", type=int, default=10000, help="port (default 10000)")
    server.add_argument("--latest", action="store_true",
                        help="serve every table as it stands, not as the last completed gold run left it")
    server.add_argument("--refresh-seconds", type=float, default=60.0,
                        help="how often to pick up new gold versions (default 60)")
    server.add_argument("--layer", default="gold", choices=["gold", "analytics"],
                        help="the layer to serve: gold, or analytics (gold.pseudonymised's copies, without names)")

    register = sub.add_parser("register", help="register the tables in the metastore as views pinned to the last completed run",
                              description="CREATE VIEW <catalog>.<schema>.<table> AS SELECT * FROM delta.`path` "
                                          "VERSION AS OF <the last completed run's version> for the layers in "
                                          "gold.catalog; every later run and erasure re-points them. Idempotent. "
                                          "Needs the delta-spark engine.")
    _config_arg(register)
    register.add_argument("--latest", action="store_true",
                          help="views of the tables as they stand (mid-run included), never re-pointed")

    report = sub.add_parser("report", help="print a run's summary and the path of its report page",
                            description="Every `c360 run` writes summary.json and index.html into "
                                        "<reports dir>/<run id>/; this prints the latest run's summary (or --run-id's).")
    _config_arg(report)
    report.add_argument("--run-id", help="the run whose report to show (default: the latest)")

    maintain = sub.add_parser("maintain", help="compact the tables, cluster the timeline by customer, vacuum",
                              description="Compact every table's small files (daily, after the run); with --zorder "
                                          "also rewrite the customer tables clustered by customer id (weekly); then "
                                          "delete files older than --retain-hours that no version within it reads.")
    _config_arg(maintain)
    maintain.add_argument("--layers", nargs="+", default=list(LAYERS), choices=LAYERS)
    maintain.add_argument("--zorder", action="store_true", help="also cluster the customer tables by customer id")
    maintain.add_argument("--retain-hours", type=int, default=168, help="vacuum retention (default 168: a week)")

    erase = sub.add_parser("erase", help="erase people from every table and file (GDPR Art. 17)",
                           description="Find each person (all records of their customer and their events), delete "
                                       "them from every layer, recompute what others shared with them, log the "
                                       "erasure with salted hashes, keep their records suppressed in later runs, "
                                       "and purge the files that still hold them. Needs the salt in the "
                                       "environment variable privacy.salt_env names.")
    _config_arg(erase)
    who = _person_args(erase)
    who.add_argument("--requests", help="a CSV of many people: request_id and one of customer_id, email, phone or "
                                        "source + source_id per row (one pass for all)")
    erase.add_argument("--dry-run", action="store_true", help="only print per table how many rows would go, and "
                                                              "unlinked records that look like the person")

    export = sub.add_parser("export-subject", help="export what c360 holds about one person (GDPR Art. 15)",
                            description="Find one person as c360 erase does and write everything held about them: "
                                        "source records as landed, the profile with lineage, consent, timeline, "
                                        "links, customer id history and the tables holding them.")
    _config_arg(export)
    _person_args(export)
    export.add_argument("--output", required=True, help="the file to write (JSON, or HTML with --format html)")
    export.add_argument("--format", default="json", choices=["json", "html"])

    _steward_parsers(sub)
    sub.add_parser("config-schema", help="print the JSON Schema of the YAML config (editors validate with it)",
                   description="Print the JSON Schema of a c360 YAML config: every key with its description and "
                               "default, as conf/c360.schema.json holds it.")
    return parser


def _person_args(parser: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """--customer-id, --email, --phone or --source with --source-id: how a command names one person."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-id", help="a customer id (one merged away is followed to where it went)")
    who.add_argument("--email", help="an e-mail address of the person")
    who.add_argument("--phone", help="a phone number of the person")
    who.add_argument("--source-id", help="a record id in --source")
    parser.add_argument("--source", help="the source of --source-id")
    return who


def _person_request(args: argparse.Namespace) -> Request:
    """The one person the arguments name (see _person_args)."""
    from c360.privacy.subjects import Request

    if (args.source_id is None) != (args.source is None):
        raise C360Error("--source and --source-id go together")
    kind, value = next((k, v) for k, v in (("customer_id", args.customer_id), ("email", args.email),
                                            ("phone", args.phone), ("record", args.source_id)) if v)
    return Request(f"--{kind.replace('_', '-')}" if kind != "record" else "--source-id", kind, value, args.source)


def _steward_parsers(sub: argparse._SubParsersAction) -> None:
    """The steward's commands: the review queue, label pairs, merge, keep apart, split (see steward)."""
    review = sub.add_parser("review", help="write the pairs most worth a steward's review (CSV, HTML)",
                            description="Pairs near the match threshold, links a guard vetoed, links that alone "
                                        "join two parts of a customer, a stratified random sample (with weights, "
                                        "for `c360 evaluate --labels`) and stale labels, both records side by side "
                                        "with the comparison levels that decided the score; label them and record "
                                        "the file with `c360 label`.")
    _config_arg(review)
    review.add_argument("--pairs", type=int, default=100, help="pairs to write, split over the kinds (default 100)")
    review.add_argument("--kind", nargs="+", default=["stale", "vetoed", "uncertain", "bridges", "random"],
                        choices=["stale", "vetoed", "uncertain", "bridges", "random"])
    review.add_argument("--out", required=True, help="the CSV to write (label and note columns empty)")
    review.add_argument("--html", help="also write the queue as an offline page that downloads the labelled CSV")
    review.add_argument("--seed", type=int, default=42, help="the random sample's seed")
    label = sub.add_parser("label", help="record a steward's labels from a review CSV",
                           description="Validate the labelled rows of a review file (match, non-match or unsure; "
                                       "empty labels are skipped) and append them to steward.labels; every later "
                                       "run honours them.")
    _config_arg(label)
    label.add_argument("--file", required=True, help="the review CSV with its label (and note) columns filled")
    merge = sub.add_parser("merge", help="join two customers: they are one person",
                           description="A must-link between the two customers, honoured by every later run.")
    apart = sub.add_parser("keep-apart", help="keep two customers apart: they are two people",
                           description="Cannot-links between every record of one and every record of the other.")
    for parser in (merge, apart):
        _config_arg(parser)
        parser.add_argument("--customers", required=True, nargs=2, metavar="ID")
    split = sub.add_parser("split", help="split records off a customer: they are another person",
                           description="Cannot-links between the named records and the customer's other records, "
                                       "must-links among the named ones.")
    _config_arg(split)
    split.add_argument("--customer", required=True, help="the customer id")
    split.add_argument("--records", required=True, help="SOURCE:ID[,SOURCE:ID...] of the records that leave")
    for parser in (label, merge, apart, split):
        parser.add_argument("--labeller", default=getpass.getuser(), help="who labels (default: the user name)")
    for parser in (merge, apart, split):
        parser.add_argument("--note", default="", help="why (kept with the labels)")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="path to the YAML config (e.g. conf/demo.yaml)")


def cmd_generate(args: argparse.Namespace) -> int:
    """`c360 generate`: write a batch of synthetic landing data with its ground truth."""
    from c360.datagen.generate import generate, next_batch

    batch = next_batch(args.out) if args.delta else (args.batch or 1)
    if batch > 1 and not Path(args.out, "truth", "manifest_b01.json").exists():
        raise C360Error(f"{args.out}: batch {batch} needs batch 1 there first (run without --delta)")
    if args.fraction is not None and not 0 < args.fraction <= 1:
        raise C360Error(f"--fraction must be in (0, 1], not {args.fraction}")
    manifest = generate(args.people, args.out, seed=args.seed, batch=batch, fraction=args.fraction)
    print(f"wrote batch {batch} for {args.people} people to {args.out} in {manifest.seconds}s")
    for source, info in manifest.sources.items():
        print(f"  {source:<16} {info['records']:>10,} records  {len(info['files'])} file(s)")
    print(f"  ground truth: {Path(args.out, 'truth')}")
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    """`c360 maintain`: compact, optionally cluster by customer id, and vacuum the tables."""
    from c360.maintenance import maintain

    if args.retain_hours < 0:
        raise C360Error(f"--retain-hours must be at least 0, not {args.retain_hours}")
    from c360 import lock, pipeline
    from c360.privacy.erase import purge_pending

    config, spark, engine, store = _open(args.config)
    ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
    with lock.holding(config.warehouse, "maintain", ctx.run_id, config.lock, store):
        done = maintain(store, tuple(args.layers), args.zorder, args.retain_hours)
        purged = purge_pending(ctx)
    for table, what in done.items():
        print(f"  {table:<40} files {what['files_removed']:>5} -> {what['files_added']:<5} vacuumed {what['files_vacuumed']}",
              file=sys.stderr)
    print(json.dumps({"maintained": done, "erasures_purged": purged}))
    return 0


def _open(config_path: str, quiet: bool = True):  # noqa: ANN202 - (config, spark, engine, store)
    from c360.config import load_config
    from c360.session import session_for
    from c360.storage import open_store

    config = load_config(config_path)
    spark, engine = session_for(config, quiet=quiet)
    print(f"Delta engine: {engine.name} ({engine.reason})", file=sys.stderr)
    return config, spark, engine, open_store(spark, engine.name, config.warehouse)


def cmd_run(args: argparse.Namespace) -> int:
    """`c360 run`: run the stages; the summary goes to stdout as JSON, progress to stderr."""
    from c360 import pipeline

    config, spark, engine, store = _open(args.config)
    ctx = pipeline.RunContext(config, spark, store, engine, args.run_id or pipeline.new_run_id(),
                              full_refresh=args.full_refresh, accept_retrain=args.accept_retrain)
    results = pipeline.run(ctx, args.stage)
    print(json.dumps({"run_id": ctx.run_id, "warehouse": config.warehouse, "stages": results}, indent=2,
                     default=str))
    failures = [msg for summary in results.values() for msg in summary.get("failed", [])]
    for message in failures:
        print(f"c360: error: {message}", file=sys.stderr)
    return 1 if failures else 0


def cmd_sql(args: argparse.Namespace) -> int:
    """`c360 sql`: run Spark SQL over every layer's tables and print or write the result."""
    from pyspark.errors import AnalysisException, ParseException

    from c360.sql import query

    _, _, _, store = _open(args.config)
    try:
        result = query(store, args.query, latest=args.latest)
    except (AnalysisException, ParseException) as exc:
        tables = ", ".join(store.list_tables()) or "none yet"
        raise C360Error(f"{str(exc).splitlines()[0]}\n  tables: {tables}") from None
    if args.format == "table":
        _print_table(result.limit(args.limit).collect(), result.columns)
        return 0
    if args.format == "parquet" and not args.output:
        raise C360Error("--format parquet needs --output PATH")
    if args.output:
        writer = result.coalesce(1).write.mode("overwrite")
        {"csv": lambda: writer.option("header", True).csv(args.output), "json": lambda: writer.json(args.output),
         "parquet": lambda: writer.parquet(args.output)}[args.format]()
        print(f"wrote {args.format} to {args.output}")
        return 0
    frame = result.toPandas()
    sys.stdout.write(frame.to_csv(index=False) if args.format == "csv" else frame.to_json(orient="records", lines=True,
                                                                                           date_format="iso"))
    return 0


def _print_table(rows: list, columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(width=200).print(table)
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


TRUTH_COLUMNS = ("source", "source_record_id", "true_id")


def _truth_files(patterns: list[str]) -> list[str]:
    """The truth CSVs named by files, globs or folders (a folder: its CSVs with the truth columns, such as
    every batch's person_records_bNN.csv that `c360 generate` writes)."""
    import csv
    import glob

    files: set[str] = set()
    for pattern in patterns:
        for found in glob.glob(pattern) or [pattern]:
            path = Path(found)
            if path.is_dir():
                for candidate in sorted(path.glob("*.csv")):
                    with candidate.open(newline="", encoding="utf-8") as handle:
                        if set(TRUTH_COLUMNS) <= set(next(csv.reader(handle), [])):
                            files.add(str(candidate))
            elif not path.is_file():
                raise C360Error(f"truth file not found: {found}")
            else:
                files.add(str(path))
    if not files:
        raise C360Error(f"no truth CSV (with columns {', '.join(TRUTH_COLUMNS)}) in {', '.join(patterns)}")
    return sorted(files)


def _label_charts(args: argparse.Namespace, ctx: "RunContext") -> dict:
    """Splink's threshold selection and accuracy charts of the labelled pairs (see steward.charts), written
    where --charts says or into labels/ of the reports folder."""
    from c360.report.files import reports_root, staged
    from c360.steward.charts import accuracy_charts

    target = args.charts or f"{reports_root(ctx.config)}/labels"
    with staged(target) as folder:
        found = accuracy_charts(ctx, folder)
    found["charts"] = [f"{target.rstrip('/')}/{Path(path).name}" for path in found["charts"]]
    return found


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`c360 evaluate`: pairwise quality of silver.identity_map against a ground-truth file or folder."""
    from pyspark.sql import functions as F

    from c360.silver.evaluation import current_truth, evaluate, format_report
    from c360.steward.estimates import format_estimate, measured

    config, spark, engine, store = _open(args.config)
    store.require("silver.identity_map")
    if args.labels:
        estimated = measured(store)
        from c360 import pipeline

        estimated["accuracy"] = _label_charts(args, pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()))
        print(format_estimate(estimated))
        print(f"charts of the labelled pairs: {', '.join(estimated['accuracy']['charts'])}")
        print(json.dumps(estimated))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(estimated, indent=2))
        return 0
    files = _truth_files(args.truth)
    truth = spark.read.csv(files, header=True)
    absent = set(TRUTH_COLUMNS) - set(truth.columns)
    if absent:
        raise C360Error(f"{files[0]}: truth needs columns source, source_record_id, true_id (missing {', '.join(sorted(absent))})")
    truth = current_truth(truth.withColumn("_file", F.input_file_name()))
    identity = store.read("silver.identity_map")
    result = evaluate(identity, truth)
    print(format_report(result))
    print(json.dumps(result))
    print(f"c360 evaluate: truth from {len(files)} file{'s' if len(files) != 1 else ''}", file=sys.stderr)
    if result["records_only_in_identity_map"] > result["records_compared"]:
        print(f"c360 evaluate: WARNING {result['records_only_in_identity_map']:,} records of the identity map have no "
              f"truth row and only {result['records_compared']:,} do; after several batches pass every batch's truth "
              "file or their folder (--truth demo/landing/truth/)", file=sys.stderr)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """`c360 train`: train a new linkage model version on the current records (or roll back to the previous)."""
    from c360 import pipeline
    from c360.silver.label_training import describe
    from c360.silver.model_choice import train_now
    from c360.silver.stage import all_person_records

    if args.rollback:
        from c360.config import load_config
        from c360.silver import model as model_store

        left, now = model_store.rollback(model_store.model_dir(load_config(args.config)))
        print(f"model version {now.version} is current again (was {left.version}): {now.path}")
        print("the next silver run links every record with it; pin it with silver.linkage.model_version to keep "
              "automatic retraining from replacing it")
        return 0
    config, spark, engine, store = _open(args.config)
    ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
    saved, result, labels = train_now(ctx, all_person_records(ctx), args.use_labels)
    if saved is None:
        raise C360Error(f"c360 train: no model could be estimated: {result.problem}")
    print(f"trained model version {saved.version}: {saved.path}")
    meta = saved.metadata()
    for line in describe(meta["labels"]) if labels is not None else []:
        print(line)
    print(json.dumps(meta, indent=2))
    return 0


def cmd_sql_server(args: argparse.Namespace) -> int:
    """`c360 sql-server`: serve the gold tables over JDBC/ODBC with Spark's Thrift server."""
    from c360.config import load_config
    from c360.session import session_for
    from c360.sql_server import serve, server_conf
    from c360.storage import open_store

    config = server_conf(load_config(args.config), args.host, args.port, args.layer)
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    try:
        serve(spark, store, args.host, args.port, args.refresh_seconds, announce=lambda m: print(m, flush=True),
              layer=args.layer, latest=args.latest)
    except KeyboardInterrupt:
        print("c360 sql-server: stopped")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    """`c360 register`: register the configured layers' tables in the metastore."""
    from c360.catalog import register_tables

    config, spark, _, store = _open(args.config)
    for name, status in register_tables(spark, store, config.gold.catalog, latest=args.latest).items():
        print(f"{status:<8} {name}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`c360 report`: print a run's summary and the path of its report page."""
    from c360.config import load_config
    from c360.report import show

    summary, page = show(load_config(args.config), args.run_id)
    print(json.dumps(summary, indent=2, default=str))
    print(f"report page: {page}", file=sys.stderr)
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    """`c360 config-schema`: print the JSON Schema of the YAML config."""
    from c360.config_schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """`c360 erase`: erase people (see privacy.erase); the result as JSON on stdout, refusals as errors."""
    from c360 import lock, pipeline
    from c360.privacy.erase import erase
    from c360.privacy.subjects import read_requests

    requests = read_requests(args.requests) if args.requests else [_person_request(args)]
    config, spark, engine, store = _open(args.config)
    ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
    with lock.holding(config.warehouse, "erase", ctx.run_id, config.lock, ctx.store):
        result = erase(ctx, requests, dry=args.dry_run)
    print(json.dumps(result, indent=2, default=str))
    for message in result["refused"]:
        print(f"c360: error: {message}", file=sys.stderr)
    return 1 if result["refused"] else 0


def cmd_export_subject(args: argparse.Namespace) -> int:
    """`c360 export-subject`: write what c360 holds about one person (see privacy.export)."""
    from c360 import pipeline
    from c360.privacy.export import export_subject, page

    request = _person_request(args)
    config, spark, engine, store = _open(args.config)
    export = export_subject(pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()), request)
    text = page(export) if args.format == "html" else json.dumps(export, indent=2, ensure_ascii=False) + "\n"
    Path(args.output).write_text(text, encoding="utf-8")
    tables = ", ".join(f"{t} ({n})" for t, n in export["held_in"].items())
    print(f"c360 export-subject: customer {export['customer_id']}, held in {tables}; written to {args.output}",
          file=sys.stderr)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """`c360 review`: write the review queue (see steward.review)."""
    from c360 import pipeline
    from c360.steward import review

    config, spark, engine, store = _open(args.config)
    ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
    queue = review.build(ctx, args.kind, args.pairs, args.seed)
    written = review.write(queue, Path(args.out), Path(args.html) if args.html else None)
    print(f"c360 review: {written} pairs written to {args.out}" + (f" and {args.html}" if args.html else ""), file=sys.stderr)
    return 0


def cmd_steward(args: argparse.Namespace) -> int:
    """`c360 label`, `merge`, `keep-apart`, `split`: append a steward's labels (see steward.actions)."""
    from c360 import pipeline
    from c360.steward import actions

    config, spark, engine, store = _open(args.config)
    ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
    if args.command == "label":
        done = actions.label_file(ctx, Path(args.file), args.labeller)
    elif args.command == "merge":
        done = actions.merge(ctx, *args.customers, args.labeller, args.note)
    elif args.command == "keep-apart":
        done = actions.keep_apart(ctx, *args.customers, args.labeller, args.note)
    else:
        done = actions.split(ctx, args.customer, [k.strip() for k in args.records.split(",") if k.strip()],
                             args.labeller, args.note)
    print(json.dumps(done))
    print("c360: the next `c360 run` honours them", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `c360` command: parse the arguments, run the command, and turn a C360Error into one message
    and exit code 1 (a traceback only with --debug)."""
    args = _parser().parse_args(argv)
    configure_logging(debug=args.debug)
    handlers = {"maintain": cmd_maintain, "generate": cmd_generate, "run": cmd_run, "sql": cmd_sql, "evaluate": cmd_evaluate, "train": cmd_train,
                "sql-server": cmd_sql_server, "register": cmd_register, "report": cmd_report,
                "config-schema": cmd_config_schema, "erase": cmd_erase,
                "export-subject": cmd_export_subject, "label": cmd_steward, "review": cmd_review, "merge": cmd_steward,
                "keep-apart": cmd_steward, "split": cmd_steward}
    try:
        return handlers[args.command](args)
    except C360Error as exc:
        if args.debug:
            raise
        print(f"c360: error: {exc}", file=sys.stderr)
        return 1
    except Py4JError as exc:  # the JVM failed (out of memory, killed, a Spark error): its log above says why
        if args.debug:
            raise
        print(f"c360: error: {spark_failure(exc)}", file=sys.stderr)
        return 1


def spark_failure(exc: BaseException) -> str:
    """One message for a failure inside Spark's JVM, whose Python traceback tells an operator nothing: what
    failed, where Spark's own explanation is, and what to do about the usual cause, memory."""
    chain, seen = [], exc
    while seen is not None:
        try:
            chain.append(str(seen))
        except Exception:  # noqa: BLE001 - a dying JVM cannot render its exception
            chain.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    first = next((line.strip() for text in chain for line in text.splitlines() if line.strip()), type(exc).__name__)
    memory = any("OutOfMemoryError" in text for text in chain)
    advice = ("the JVM ran out of memory: raise spark.driver_memory (or the executors' memory on a cluster; the "
              "docs give what each size needs)" if memory else
              "Spark's log above says why; if it names java.lang.OutOfMemoryError, raise spark.driver_memory")
    return (f"Spark failed ({first[:300]}): {advice}. What earlier runs committed is intact, and the next run "
            "takes up the work this one did not commit (see docs/operations/reliability.md).")


if __name__ == "__main__":
    sys.exit(main())
