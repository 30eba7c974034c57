#!/usr/bin/env bash
# The demo on the embedded default: sets up .venv if needed, generates demo data into demo/landing (once),
# runs the pipeline with conf/demo.yaml (delta-rs, local Spark) into demo/warehouse, and prints where the
# tables are with an example query. Set C360_DEMO_PEOPLE to change the size (default 20000).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
unset C360_DELTA_JARS   # the demo shows the embedded engine; scripts/test.sh covers delta-spark
PEOPLE="${C360_DEMO_PEOPLE:-20000}"
if [ ! -f demo/landing/truth/manifest_b01.json ]; then
  c360 generate --people "$PEOPLE" --out demo/landing --seed 42
fi
c360 run --config conf/demo.yaml > demo/last_run.json
python - <<'PY'
import json
run = json.load(open("demo/last_run.json"))
print(f"run {run['run_id']}")
for stage, summary in run["stages"].items():
    sources = summary.get("sources", {})
    written = sum(s.get("written", 0) for s in sources.values())
    if "status" in summary:
        print(f"  {stage:<7} {summary['status']}")
    elif stage == "silver":
        print(f"  silver  {summary['person_records']:>10,} person records -> {summary['customers']:,} customers, "
              f"{summary['interactions']:,} interactions in {summary['seconds']}s (charts: {summary['charts']})")
    elif stage == "gold":
        t = summary["tables"]
        print(f"  gold    {t['customer_profile']:>10,} golden profiles, {t['customer_interactions']:,} timeline events "
              f"({sum(summary['unresolved_interactions'].values()):,} unresolved), {t.get('households', 0):,} households "
              f"in {summary['seconds']}s")
    else:
        print(f"  {stage:<7} {written:>10,} records written in {summary['seconds']}s")
PY
echo
echo "Tables (Delta, readable by Spark, delta-rs, DuckDB, Databricks ...) are under: $ROOT/demo/warehouse"
find demo/warehouse -mindepth 3 -maxdepth 3 -type d -name _delta_log | sed 's|/_delta_log$||' | sort | sed 's/^/  /'
echo
echo "Example queries:"
echo "  c360 sql --config conf/demo.yaml \"SELECT source, count(*) AS files, sum(records) AS records, sum(quarantined) AS quarantined FROM bronze._ingest_log GROUP BY source\""
echo "  c360 sql --config conf/demo.yaml \"SELECT match_method, count(*) AS records FROM silver.identity_map GROUP BY match_method ORDER BY records DESC\""
echo "  c360 evaluate --config conf/demo.yaml --truth demo/landing/truth/person_records_b01.csv"
echo "  c360 sql --config conf/demo.yaml \"SELECT segment, count(*) AS customers, round(sum(revenue_total), 2) AS revenue FROM gold.customer_metrics GROUP BY segment ORDER BY revenue DESC\""
echo "  c360 sql-server --config conf/demo.yaml   # then: beeline -u jdbc:hive2://localhost:10000/ (docs: SQL access)"
c360 sql --config conf/demo.yaml "SELECT segment, count(*) AS customers, round(sum(revenue_total), 2) AS revenue FROM gold.customer_metrics GROUP BY segment ORDER BY revenue DESC" 2>/dev/null
echo "(run 'source .venv/bin/activate' first to use c360 directly)"
