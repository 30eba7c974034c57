"""Models that keep up with the data: thin evidence makes a model provisional, later deliveries retrain it
(auto) or only say so (warn), the churn limit holds back a retrain that moves trusted customers, growth
retrains, and an ordinary batch does not. The runs use the independent generator's data (crm_pairs), not
`c360 generate`'s, delivered in parts as a data team onboards sources."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.config import parse_config
from c360.datagen.crm_pairs import crm_pairs
from c360.session import EngineChoice
from c360.silver import model as model_store, retraining
from c360.storage import TableStore, open_store
from tests.conftest import TEST_SPARK_CONF

FIELDS = {"first_name": "first_name", "last_name": "last_name", "date_of_birth": "birth_date", "email": "email",
          "phone": "phone", "street": "street", "city": "city", "postcode": "postcode", "country": "country"}


# --- what makes a model provisional, and when one is due ----------------------------------------------------

def test_thin_evidence_makes_a_model_provisional_and_says_why() -> None:
    ample = {"prior_pairs": 400, "em_evidence": {"r1": {"pairs": 900, "match_share": 0.3, "matches": 270}}}
    assert retraining.provisional_reasons(ample, {"a": 500, "b": 400}, 50) == []
    thin = {"prior_pairs": 3, "em_evidence": {"r1": {"pairs": 900, "match_share": 0.004, "matches": 4},
                                              "r2": {"pairs": 60, "match_share": 0.1, "matches": 6}}}
    reasons = retraining.provisional_reasons(thin, {"crm_a": 5000}, 50)
    assert reasons == ["its prior rule found 3 pairs in one source (crm_a) that looks free of duplicates "
                       "(fewer than silver.linkage.min_prior_pairs = 50)",
                       "no EM session converged on more than 6 matching pairs (fewer than 50)"]
    assert retraining.provisional_reasons({**thin, "prior_pairs": 80}, {"a": 10, "b": 10}, 50) == [
        "no EM session converged on more than 6 matching pairs (fewer than 50)"]


def test_a_retrain_is_due_when_the_data_outgrows_the_model() -> None:
    assert retraining.due(None, {"a": 10}, pairs=45, growth=2) == [
        "there is no model yet, and the person records now have pairs to compare"]
    assert retraining.due(None, {"a": 10}, pairs=0, growth=2) == [], "one record, or one no-duplicates source"
    trained = {"version": 3, "of_records": 1000, "source_records": {"a": 600, "b": 400}, "provisional": False}
    assert retraining.due(trained, {"a": 1200, "b": 800}, 1, growth=2) == [], "exactly twice is not more"
    assert retraining.due(trained, {"a": 1201, "b": 800}, 1, growth=2) == [
        "person records grew from 1,000 when model v3 was trained to 2,001 (more than silver.linkage.retrain_growth = 2 times)"]
    assert retraining.due(trained, {"a": 600, "b": 400, "c": 7, "d": 0}, 1, growth=2) == [
        "model v3 never saw source c, which now holds 7 records"]
    thin = {**trained, "provisional": True, "provisional_reasons": ["its prior rule found 3 pairs"]}
    assert retraining.due(thin, {"a": 600, "b": 400}, 1, growth=2) == [
        "model v3 is provisional (its prior rule found 3 pairs)"]
    legacy = {"version": 1, "of_records": 1000}
    assert retraining.due(legacy, {"x": 900}, 1, growth=2) == [], "a model saved before evidence: its size only"


def test_moved_customers_counts_merges_and_splits_of_unchanged_records(spark: SparkSession) -> None:
    schema = "record_key string, customer_id string"
    before = spark.createDataFrame([("r1", "A"), ("r2", "A"), ("r3", "B"), ("r4", "C"), ("r5", "D"), ("r6", "D"),
                                    ("r7", "E"), ("r8", "F")], schema)
    # A keeps its records under another id (not moved); B and C merge (both moved); D splits (moved);
    # E's only record changed in this batch (not compared); F gains a new record r9 (not moved)
    after = spark.createDataFrame([("r1", "X"), ("r2", "X"), ("r3", "B"), ("r4", "B"), ("r5", "D"), ("r6", "G"),
                                   ("r7", "B"), ("r8", "F"), ("r9", "F")], schema)
    changed = spark.createDataFrame([("r7",)], "record_key string")
    assert retraining.moved_customers(before, after, changed) == (3, 5)
    assert retraining.moved_customers(before, before) == (0, 6)


# --- the runs ---------------------------------------------------------------------------------------------

class Deliveries:
    """A warehouse fed crm_pairs' two sources in parts, as files landing one run apart."""

    def __init__(self, spark: SparkSession, root: Path, engine: str, unique_a: bool = False) -> None:
        frames, truth = crm_pairs(900, seed=3)
        true_id = dict(zip(zip(truth.source, truth.source_record_id), truth.true_id, strict=True))
        self.frames = {s: f.assign(true_id=[true_id[(s, i)] for i in f.id]) for s, f in frames.items()}
        self.spark, self.root, self.engine, self.parts = spark, root, engine, 0
        self.doc = {"warehouse": str(root / "warehouse"), "engine": engine, "default_country": "DE",
                    "spark": {"master": "local[2]", "shuffle_partitions": 2, "conf": dict(TEST_SPARK_CONF)},
                    "sources": [{"name": s, "kind": "person", "format": "parquet", "id": "id", "fields": FIELDS,
                                 "path": str(root / "landing" / s / "part_*.parquet"),
                                 "no_duplicates": unique_a and s == "crm_a"} for s in frames],
                    "silver": {"linkage": {"min_prior_pairs": 20}}}
        self.store: TableStore = open_store(spark, engine, self.doc["warehouse"])

    def first_of_each_person(self, source: str, below: int) -> pd.DataFrame:
        """`source`'s records of the people with true_id < `below`, each person once."""
        frame = self.frames[source]
        return frame[frame.true_id < below].drop_duplicates("true_id")

    def land(self, source: str, rows: pd.DataFrame) -> None:
        self.parts += 1
        folder = self.root / "landing" / source
        folder.mkdir(parents=True, exist_ok=True)
        rows.drop(columns="true_id").astype("string").to_parquet(folder / f"part_{self.parts:02d}.parquet", index=False)

    def run(self, stage: str = "silver", accept_retrain: bool = False, **linkage: object) -> dict:
        doc = {**self.doc, "silver": {"linkage": {**self.doc["silver"]["linkage"], **linkage}}}
        config = parse_config(doc, self.root / "c360.yaml")
        (self.root / "c360.yaml").write_text(yaml.safe_dump(doc))
        ctx = pipeline.RunContext(config, self.spark, self.store, EngineChoice(self.engine, "test"), pipeline.new_run_id(),
                                  accept_retrain=accept_retrain)
        if stage == "silver":
            pipeline.run(ctx, "bronze")
        return pipeline.run(ctx, stage)[stage]

    @property
    def models(self) -> str:
        return str(self.root / "warehouse" / "_models" / model_store.NAME)

    def ids(self) -> dict[str, str]:
        return {r.record_key: r.customer_id for r in self.store.read("silver.identity_map").collect()}


@pytest.mark.slow
# the model's lifecycle is the same on either engine; delta-spark's silver writes have their own incremental test
@pytest.mark.parametrize("store", ["delta-rs"], indirect=True)
def test_a_thin_first_delivery_is_retrained_as_the_data_arrives(store: TableStore, spark: SparkSession, tmp_path: Path,
                                                                capfd: pytest.CaptureFixture) -> None:
    data = Deliveries(spark, tmp_path, store.engine)
    below = 260
    # 1. one source's people, each once, and five records entered twice: a model, provisional, and it says so
    once = data.first_of_each_person("crm_a", below)
    twice = once.head(5).assign(id=lambda f: "A9" + f.id.str[2:])
    data.land("crm_a", pd.concat([once, twice]))
    first = data.run()
    model = first["linkage"]["model"]
    assert first["model_version"] == 1 and model["provisional"] is True, first["linkage"]
    assert "prior rule found 5 pairs in one source (crm_a)" in model["provisional_reasons"][0]
    assert "linkage model v1 is provisional" in capfd.readouterr().err

    # 2. the second source lands under retrain: warn: the model stays, the run says a retrain is due and why
    b = data.frames["crm_b"]
    data.land("crm_b", b[b.true_id < below])
    warned = data.run(retrain="warn")
    assert warned["model_version"] == 1 and warned["mode"]["incremental"] is True
    assert warned["linkage"]["retrain"]["action"] == "reported"
    assert any("never saw source crm_b" in r for r in warned["linkage"]["retrain"]["due"])
    assert "a retrain of the linkage model is due" in capfd.readouterr().err

    # 3. the next delivery under auto: a new version, every record linked again with it, ids kept stable
    a = data.frames["crm_a"]
    rest = a[(a.true_id < below) & ~a.id.isin(once.id)]
    data.land("crm_a", rest)
    before = data.ids()
    retrained = data.run()
    assert retrained["model_version"] == 2 and retrained["linkage"]["retrain"]["action"] == "retrained"
    assert retrained["linkage"]["model"]["provisional"] is False, retrained["linkage"]["model"]
    assert "every pair scored" in retrained["mode"]["why"], retrained["mode"]
    after = data.ids()
    kept = sum(after[k] == v for k, v in before.items() if k in after)
    assert kept >= 0.8 * len(before), "customer ids survive a retrain through the lifecycle"

    # 4. an ordinary batch (three changed records) keeps the ample model and scores only the changed pairs
    changed = b[b.true_id < below].head(3).assign(street=lambda f: "1 " + f.street)
    data.land("crm_b", changed)
    batch = data.run()
    assert batch["model_version"] == 2 and batch["linkage"]["retrain"] == {"due": [], "policy": "auto", "action": "none"}
    assert batch["mode"]["incremental"] is True and "every pair scored" not in batch["mode"]["why"]
    written = batch["mode"]["person_records_written"]
    assert batch["mode"]["changed_records"] == written["upserted"] + written["deleted"] == 3, batch["mode"]

    # 5. the records more than double: a retrain is due, but it would move customers the trusted model decided
    # (a customer split by hand stands for them), so the churn limit holds it back
    split_customer(data.store)
    data.land("crm_a", a[a.true_id >= below])
    data.land("crm_b", b[b.true_id >= below])
    held = data.run(max_retrain_churn=0.0)
    retrain = held["linkage"]["retrain"]
    assert any("grew from" in r for r in retrain["due"]) and retrain["action"] == "held back", retrain
    assert retrain["moved_customers"] == 2 and held["model_version"] == 2
    assert model_store.latest(data.models).version == 2
    assert "would move 2 of" in model_store.version(data.models, 3).metadata()["held_back"]
    assert "was held back" in capfd.readouterr().err

    # 6. the next run does not train again by itself; with --accept-retrain it does, and the new version is current
    data.land("crm_b", changed.assign(street=lambda f: "2 " + f.street))
    again = data.run(max_retrain_churn=0.0)
    assert again["linkage"]["retrain"]["action"] == "held back earlier" and again["model_version"] == 2
    data.land("crm_b", changed.assign(street=lambda f: "3 " + f.street))
    accepted = data.run(max_retrain_churn=0.0, accept_retrain=True)
    assert accepted["linkage"]["retrain"]["action"] == "retrained" and accepted["model_version"] == 4
    assert model_store.latest(data.models).version == 4
    left, now = model_store.rollback(data.models)
    assert (left.version, now.version) == (4, 2), "a rollback passes over the version that was held back"


def split_customer(store: TableStore) -> None:
    """Give one record of a customer with several records an id of its own, as an earlier model might have."""
    identity = store.read("silver.identity_map")
    customer = identity.groupBy("customer_id").count().where("count >= 2").orderBy("customer_id").first()["customer_id"]
    key = identity.where(F.col("customer_id") == customer).agg(F.min("record_key")).first()[0]
    split = identity.withColumn("customer_id", F.when(F.col("record_key") == key, F.lit("Csplit")).otherwise(F.col("customer_id")))
    store.overwrite(split.localCheckpoint(), "silver.identity_map")


@pytest.mark.slow
@pytest.mark.parametrize("store", ["delta-rs"], indirect=True)
def test_a_no_duplicates_source_first_trains_when_the_second_source_lands(store: TableStore, spark: SparkSession,
                                                                           tmp_path: Path) -> None:
    data = Deliveries(spark, tmp_path, store.engine, unique_a=True)
    data.land("crm_a", data.first_of_each_person("crm_a", 200))
    first = data.run()
    assert first["model_version"] is None and "no pair to compare yet" in first["linkage"]["warning"]
    b = data.frames["crm_b"]
    data.land("crm_b", b[b.true_id < 200])
    second = data.run()
    assert second["model_version"] == 1 and second["linkage"]["retrain"]["action"] == "retrained", second["linkage"]
    assert second["linkage"]["retrain"]["due"] == ["there is no model yet, and the person records now have pairs to compare"]
    assert second["comparisons"] > 0 and "every pair scored" in second["mode"]["why"]
