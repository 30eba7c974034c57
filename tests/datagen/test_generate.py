"""The generator: ground truth covers every record and event, the noise is there, the output is
deterministic per seed, and a delta batch adds new people, changes old records and adds events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from c360.datagen.generate import generate, next_batch
from c360.reference.nicknames import nicknames_by_name

PEOPLE = 400


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(PEOPLE, out, seed=11)
    generate(PEOPLE, out, seed=11, batch=2)
    return out


def read_source(out: Path, source: str, batch: int = 1) -> pd.DataFrame:
    manifest = json.loads((out / "truth" / f"manifest_b{batch:02d}.json").read_text())
    frames = []
    for file in manifest["sources"][source]["files"]:
        path = out / file
        if path.suffix == ".csv":
            frames.append(pd.read_csv(path, sep=";" if "loyalty" in file else ",", dtype=str, keep_default_na=False))
        elif path.suffix == ".parquet":
            frames.append(pd.read_parquet(path))
        elif path.suffix == ".ndjson":
            frames.append(pd.read_json(path, lines=True, dtype=False) if path.stat().st_size else pd.DataFrame())
        else:
            frames.append(pd.DataFrame(json.loads(path.read_text())))
    return pd.concat(frames, ignore_index=True)


ID = {"crm_contacts": "contact_id", "shop_customers": "customer_no", "loyalty_members": "card_number",
      "social_profiles": "profile_id"}
EVENT_ID = {"shop_orders": "order_id", "support_tickets": "ticket_id", "social_posts": "post_id",
            "web_events": "event_id"}


def test_truth_covers_every_record_once(landing: Path) -> None:
    truth = pd.read_csv(landing / "truth" / "person_records_b01.csv", dtype=str)
    people = pd.read_parquet(landing / "truth" / "people_b01.parquet")
    assert len(people) == PEOPLE and people["true_id"].is_unique
    assert set(truth["true_id"]) <= set(people["true_id"])
    for source, key in ID.items():
        records = read_source(landing, source)
        ids = records[key].astype(str)
        assert ids.is_unique, source
        assert sorted(ids) == sorted(truth.loc[truth["source"] == source, "source_record_id"]), source


def test_truth_covers_every_event(landing: Path) -> None:
    events = pd.read_csv(landing / "truth" / "events_b01.csv", dtype=str)
    for source, key in EVENT_ID.items():
        records = read_source(landing, source)
        assert sorted(records[key].astype(str)) == sorted(events.loc[events["source"] == source, "event_id"]), source
    manifest = json.loads((landing / "truth" / "manifest_b01.json").read_text())
    assert manifest["sources"]["web_events"]["records"] == (events["source"] == "web_events").sum()


def test_noise_is_present(landing: Path) -> None:
    people = pd.read_parquet(landing / "truth" / "people_b01.parquet").set_index("true_id")
    truth = pd.read_csv(landing / "truth" / "person_records_b01.csv", dtype=str)
    crm = read_source(landing, "crm_contacts").merge(
        truth[truth["source"] == "crm_contacts"].rename(columns={"source_record_id": "contact_id"}), on="contact_id")
    true_first = crm["true_id"].map(people["first_name"])
    nick = [f.lower() in nicknames_by_name().get(t.lower(), ()) for f, t in zip(crm["first_name"], true_first)]
    assert any(nick), "some first names are nicknames"
    assert (crm["first_name"] != true_first).mean() > 0.03, "typos, nicknames, case and swaps"
    assert (crm["first_name"].str.isupper() | crm["first_name"].str.islower()).any(), "case noise"
    assert (crm["email"] == "").mean() > 0.02, "missing e-mails"
    assert crm["phone"].str.startswith("+").any() and crm["phone"].str.contains("/").any(), "phone formats"
    assert crm["country"].nunique() > 3, "country written several ways"
    shop_truth = truth[truth["source"] == "shop_customers"].rename(columns={"source_record_id": "customer_no"})
    shop = read_source(landing, "shop_customers").merge(shop_truth.astype({"customer_no": "int64"}), on="customer_no")
    assert shop["true_id"].duplicated().any(), "duplicates inside one source"
    assert shop["full_name"].str.contains(",").any(), "'Last, First' names"
    assert shop["shipping_street"].str.contains(r"Str\.|\bSt\b|Crk|Ave", regex=True).any(), "abbreviated streets"
    loyalty = read_source(landing, "loyalty_members")
    assert loyalty["dob"].str.match(r"\d\d\.\d\d\.\d{4}$").any(), "German date format"
    assert people["family_email"].notna().sum() >= 2, "shared family e-mails"
    assert people["maiden_name"].notna().any(), "changed surnames"
    tickets = read_source(landing, "support_tickets")
    assert tickets["opened_at"].str[-6:].nunique() > 1, "time zones"
    clicks = read_source(landing, "web_events")
    assert (clicks["event_type"] == "login").any() and clicks["login_id"].notna().any()


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    def digest(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file() and "manifest" not in p.name}

    generate(60, tmp_path / "a", seed=5)
    generate(60, tmp_path / "b", seed=5)
    generate(60, tmp_path / "c", seed=6)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_delta_batch_adds_changes_and_events(landing: Path) -> None:
    assert next_batch(landing) == 3
    truth1 = pd.read_csv(landing / "truth" / "person_records_b01.csv", dtype=str)
    truth2 = pd.read_csv(landing / "truth" / "person_records_b02.csv", dtype=str)
    contacts2 = read_source(landing, "crm_contacts", batch=2)
    changed = contacts2[contacts2["contact_id"].isin(truth1["source_record_id"])]
    fresh = contacts2[~contacts2["contact_id"].isin(truth1["source_record_id"])]
    assert len(changed) and len(fresh), "a delta batch changes old records and adds new ones"
    assert (changed["modified_at"] > "2025-06-30").all()
    new_people = pd.read_parquet(landing / "truth" / "people_b02.parquet")
    assert new_people["true_id"].max() > f"P{PEOPLE - 1:08d}"
    assert set(truth2["true_id"]) <= set(new_people["true_id"])
    orders2 = read_source(landing, "shop_orders", batch=2)
    assert (orders2["ordered_at"] > pd.Timestamp("2025-06-30", tz="UTC")).all()
    events2 = pd.read_csv(landing / "truth" / "events_b02.csv", dtype=str)
    events1 = pd.read_csv(landing / "truth" / "events_b01.csv", dtype=str)
    assert not set(events2["event_id"]) & set(events1["event_id"])
