"""The warehouse a privacy test works on, and the person in it: someone whose records all sit in one
customer, in at least three sources, with events; and the values only they hold."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from pyspark.sql import SparkSession

from c360.config import C360Config, parse_config
from c360.datagen.generate import generate
from c360.silver.model import NAME
from c360.storage import TableStore, open_store
from tests.bronze.test_stage import demo_config


def landed_warehouse(project_root: Path, root: Path, engine: str, spark: SparkSession, sources: Sequence[str],
              people: int = 70, seed: int = 5, edit: Callable[[dict], None] | None = None) -> tuple[C360Config, TableStore]:
    """Landing data for `people` (the demo's `sources`) and a config over it with the stored test model in
    the warehouse's model folder (so runs save their term frequencies there) and no retraining; `edit` may
    change the config document first."""
    generate(people, root / "landing", seed=seed)
    doc = demo_config(project_root, root, engine=engine, sources=sources)
    doc["silver"]["linkage"]["retrain"] = "never"  # the stored model scores every run: no retrain recomputes all
    if edit:
        edit(doc)
    models = root / "warehouse" / "_models" / NAME
    models.mkdir(parents=True)
    shutil.copy(project_root / "tests" / "silver" / "data" / f"{NAME}_v0001.json", models)
    path = root / "c360.yaml"
    path.write_text(yaml.safe_dump(doc))
    config = parse_config(doc, path)
    return config, open_store(spark, engine, config.warehouse)


def subject(root: Path, store) -> tuple[str, list[str]]:  # noqa: ANN001
    """A customer holding every record of one true person, in at least three sources, with events; and the
    values only they hold (e-mails, phones, record ids)."""
    truth = defaultdict(set)
    for line in (root / "landing" / "truth" / "person_records_b01.csv").read_text().splitlines()[1:]:
        source, record, person, _ = line.split(",")
        truth[person].add(f"{source}:{record}")
    ids = {r["record_key"]: r["customer_id"] for r in store.read("silver.identity_map").collect()}
    with_events = {r[0] for r in store.read("gold.customer_interactions").select("customer_id").distinct().collect()}
    members = defaultdict(set)
    for key, customer in ids.items():
        members[customer].add(key)
    for keys in sorted(truth.values(), key=lambda k: (-len({k_.split(":")[0] for k_ in k}), sorted(k))):
        customers = {ids.get(k) for k in keys}
        crm = any(k.startswith("crm_contacts:") for k in keys)
        if crm and len({k.split(":")[0] for k in keys}) >= 3 and len(customers) == 1 and None not in customers:
            customer = customers.pop()
            if customer in with_events and members[customer] == keys:
                return customer, own_values(store, keys)
    raise AssertionError("no person in three sources held by one customer with events")


def own_values(store, keys: set[str]) -> list[str]:  # noqa: ANN001
    """The e-mails, phones and record ids of `keys` that no other record holds, not even inside a longer
    value (record 100000021 beside 1000000210)."""
    records = store.read("silver.person_records").select("record_key", "source_record_id", "email", "phone",
                                                       "phone_e164").collect()
    holders = defaultdict(set)
    for r in records:
        for value in (r["email"], r["phone"], r["phone_e164"], r["source_record_id"]):
            if value:
                holders[value].add(r["record_key"])
    theirs = [v for v, who in holders.items() if who <= keys and len(v) >= 6]
    others = [v for v, who in holders.items() if not who <= keys]
    return sorted(v for v in theirs if not any(v in other for other in others))
