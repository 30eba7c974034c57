"""Write a multi-source landing folder for N people, with ground truth, deterministic per seed.

Batch 1 is the initial load. A later batch (``--delta``) adds new people, changes some existing records
(same source ids, newer timestamps) and adds new events, in new files beside the old ones, so an incremental
run picks up just that batch. The changes are what an identity graph has to follow: a new e-mail or a move,
a phone filled in where it was missing (which can bridge two customers into one), a CRM contact id re-used
for someone else (which splits a customer), loyalty members erased at the source (`status` deleted) and CRM
contacts deleted (listed in the CRM's deletion export, `crm/deleted_contacts_bNN.csv`). The batch's truth lists every changed record with its owner now, deleted ones flagged. Every source draws from its own seeded stream, so a
delta batch can rebuild batch 1's record ids without regenerating its events.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from c360.datagen import sources as src
from c360.datagen.population import Pools, build_pools, generate_population

STREAMS = ("crm", "shop", "orders", "loyalty", "tickets", "social", "posts", "web", "changes", "crm-deletions")
BATCH1 = src.Window(1, datetime(2023, 1, 1), datetime(2025, 6, 30))
DELTA_DAYS = 30
NEW_PEOPLE_SHARE = 0.05
CHANGED_SHARE = 0.03
DELETED_SHARE = 0.2  # of the changed people's loyalty records
REASSIGNED_SHARE = 0.2  # of the changed people's CRM contacts
REASSIGNED_IDS = 10**8  # true ids of the people re-used contact ids now describe start here
JSON_DOC_SIZE = 50_000
NDJSON_PART_ROWS = 1_000_000
WEB_CHUNK_PEOPLE = 100_000
# Event volume of a delta batch relative to batch 1 (one month against thirty).
DELTA_EVENT_SCALE = 0.1


@dataclass
class Manifest:
    """What a batch wrote: files and record counts per source, for reconciliation downstream."""

    people: int
    seed: int
    batch: int
    sources: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, source: str, files: list[Path], records: int, root: Path) -> None:
        """Record a source's files (relative to the landing folder) and record count."""
        self.sources[source] = {"files": [str(f.relative_to(root)) for f in files], "records": records}


def window(batch: int) -> src.Window:
    """The time window of a batch: batch 1 spans the history, each later batch the days after the last."""
    if batch == 1:
        return BATCH1
    start = BATCH1.end + timedelta(days=DELTA_DAYS * (batch - 2))
    return src.Window(batch, start, start + timedelta(days=DELTA_DAYS))


def stream(seed: int, batch: int, name: str) -> np.random.Generator:
    """The random stream of one part of one batch, so each part is the same whatever else changes."""
    return np.random.default_rng([seed, batch, STREAMS.index(name)])


# --- writers ---------------------------------------------------------------------------------------------
def write_csv(frame: pd.DataFrame, path: Path, sep: str = ",") -> list[Path]:
    """Write a frame as one CSV file; returns the files written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, sep=sep, encoding="utf-8")
    return [path]


def write_parquet(frame: pd.DataFrame, path: Path, schema: pa.Schema | None = None) -> list[Path]:
    """Write a frame as one Parquet file (with `schema`, also when empty); returns the files written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if schema is not None and frame.empty:
        table = schema.empty_table()
    else:
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    pq.write_table(table, path)
    return [path]


def write_ndjson(records: list[dict] | pd.DataFrame, stem: Path, first_part: int = 1) -> list[Path]:
    """NDJSON in parts of NDJSON_PART_ROWS lines: stem_p0001.ndjson, ..."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    total = len(records)
    files = []
    for part, start in enumerate(range(0, max(total, 1), NDJSON_PART_ROWS), start=first_part):
        path = stem.with_name(f"{stem.name}_p{part:04d}.ndjson")
        chunk = records[start:start + NDJSON_PART_ROWS]
        if isinstance(chunk, pd.DataFrame):
            text = chunk.to_json(orient="records", lines=True, force_ascii=False) if len(chunk) else ""
        else:
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk)
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def write_json_documents(records: list[dict], stem: Path) -> list[Path]:
    """Pretty-printed JSON arrays (multi-line documents), JSON_DOC_SIZE records per file."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    files = []
    for part, start in enumerate(range(0, max(len(records), 1), JSON_DOC_SIZE), start=1):
        path = stem.with_name(f"{stem.name}_p{part:04d}.json")
        path.write_text(json.dumps(records[start:start + JSON_DOC_SIZE], indent=1, ensure_ascii=False),
                        encoding="utf-8")
        files.append(path)
    return files


ORDER_SCHEMA = pa.schema([
    ("order_id", pa.string()), ("customer_no", pa.int64()), ("ordered_at", pa.timestamp("us", tz="UTC")),
    ("currency", pa.string()), ("total_amount", pa.float64()), ("status", pa.string()),
    ("lines", pa.list_(pa.struct([("sku", pa.string()), ("qty", pa.int32()), ("unit_price", pa.float64())]))),
])


def _utc(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    out = frame.copy()
    for col in cols:
        out[col] = pd.to_datetime(out[col]).dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    return out


# --- person sources ---------------------------------------------------------------------------------------
@dataclass
class PersonSources:
    accounts: pd.DataFrame
    contacts: pd.DataFrame
    customers: pd.DataFrame
    loyalty: pd.DataFrame
    profiles: list[dict]
    truth: dict[str, pd.DataFrame]
    # the CRM's deletion log: (contact_id, deleted_at) of contacts deleted in this batch
    deleted_contacts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["contact_id", "deleted_at"]))


def person_sources(people: pd.DataFrame, pools: Pools, seed: int, win: src.Window) -> PersonSources:
    """Every person source's records for `people` in one batch, with their truth."""
    accounts, contacts, t_crm = src.crm(people, stream(seed, win.batch, "crm"), win, pools.company)
    customers, t_shop = src.shop_customers(people, stream(seed, win.batch, "shop"), win)
    loyalty, t_loy = src.loyalty(people, stream(seed, win.batch, "loyalty"), win)
    profiles, t_soc = src.social_profiles(people, stream(seed, win.batch, "social"), win)
    truth = {"crm_contacts": t_crm, "shop_customers": t_shop, "loyalty_members": t_loy, "social_profiles": t_soc}
    return PersonSources(accounts, contacts, customers, loyalty, profiles, truth)


def changed_records(base: PersonSources, people: pd.DataFrame, pools: Pools, seed: int, win: src.Window,
                    share: float = CHANGED_SHARE) -> tuple[PersonSources, pd.DataFrame]:
    """Existing records of `share` of the people, updated in this batch (ids unchanged): a new e-mail or a
    move, a phone filled in, a CRM contact re-used for someone else, a loyalty member deleted."""
    rng = stream(seed, win.batch, "changes")
    chosen = people[rng.random(len(people)) < share].copy()
    moves = rng.random(len(chosen)) < 0.5
    new_home = generate_population(len(chosen), seed + win.batch, pools)
    for col in src.ADDRESS_COLUMNS:
        chosen.loc[moves, f"prev_{col}"] = chosen.loc[moves, col]
        chosen.loc[moves, col] = new_home.loc[moves, col].to_numpy()
    chosen.loc[~moves, "email"] = ("new." + chosen.loc[~moves, "email"]).to_numpy()
    chosen["moved"] = moves
    ids = set(chosen["true_id"])
    stamp = win.times(rng, 1).iloc[0]

    def pick(source: str, frame: pd.DataFrame, key: str) -> pd.DataFrame:
        t = base.truth[source]
        keep = set(t.loc[t["true_id"].isin(ids), "source_record_id"])
        return frame[frame[key].astype(str).isin(keep)].copy()

    german = chosen["locale"] == "de_DE"
    street_line = np.where(german, chosen["street_name"] + " " + chosen["house_number"],
                           chosen["house_number"] + " " + chosen["street_name"])
    truth_of = {r["true_id"]: r for r in chosen.assign(street_line=street_line).to_dict("records")}
    contacts = pick("crm_contacts", base.contacts, "contact_id")
    _apply_change(contacts, base.truth["crm_contacts"], "contact_id", truth_of,
                  {"email": "email", "address_1": "street_name", "street_number": "house_number",
                   "city": "city", "postcode": "postcode"})
    contacts["phone"] = contacts["phone"].where(contacts["phone"].notna() & (contacts["phone"] != ""),
                                                contacts["contact_id"].astype(str).map(_owner_attr(base, "crm_contacts", truth_of, "phone")))
    contacts["modified_at"] = stamp.strftime("%Y-%m-%d %H:%M:%S")
    customers = pick("shop_customers", base.customers, "customer_no")
    _apply_change(customers, base.truth["shop_customers"], "customer_no", truth_of,
                  {"email": "email", "shipping_street": "street_line", "shipping_city": "city",
                   "shipping_zip": "postcode"})
    customers["updated_at"] = stamp
    loyalty = pick("loyalty_members", base.loyalty, "card_number")
    _apply_change(loyalty, base.truth["loyalty_members"], "card_number", truth_of,
                  {"e_mail": "email", "zip": "postcode", "city": "city"})
    truth = {name: frame for name, frame in (
        ("crm_contacts", pick("crm_contacts", base.truth["crm_contacts"], "source_record_id")),
        ("shop_customers", pick("shop_customers", base.truth["shop_customers"], "source_record_id")),
        ("loyalty_members", pick("loyalty_members", base.truth["loyalty_members"], "source_record_id")))}
    erased = rng.random(len(loyalty)) < DELETED_SHARE
    loyalty.loc[erased, "status"] = "deleted"
    truth["loyalty_members"]["deleted"] = truth["loyalty_members"]["source_record_id"].isin(set(loyalty.loc[erased, "card_number"]))
    contacts, deleted = _delete_contacts(contacts, truth["crm_contacts"], stream(seed, win.batch, "crm-deletions"), stamp)
    newcomers = reassign(contacts, truth["crm_contacts"], rng, seed, win, pools)
    return PersonSources(base.accounts.iloc[0:0], contacts, customers, loyalty, [], truth, deleted), pd.concat(
        [chosen, newcomers], ignore_index=True)


def _delete_contacts(contacts: pd.DataFrame, truth: pd.DataFrame, rng: np.random.Generator,
                     stamp: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delete DELETED_SHARE of the changed CRM contacts: the CRM logs them in its deletion export instead of
    exporting them again (the truth flags them deleted). Returns the contacts left and the deletion log."""
    erased = rng.random(len(contacts)) < DELETED_SHARE
    log = pd.DataFrame({"contact_id": contacts.loc[erased, "contact_id"].to_numpy(),
                        "deleted_at": (stamp + pd.Timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")})
    truth["deleted"] = truth["source_record_id"].isin(set(log["contact_id"].astype(str)))
    return contacts[~erased].copy(), log


def _owner_attr(base: PersonSources, source: str, people: dict[str, dict], attr: str) -> dict[str, object]:
    """source record id -> `attr` of its owner, for the records of `people`."""
    t = base.truth[source]
    return {rid: people[tid][attr] for rid, tid in zip(t["source_record_id"], t["true_id"]) if tid in people}


def reassign(contacts: pd.DataFrame, truth: pd.DataFrame, rng: np.random.Generator, seed: int, win: src.Window,
             pools: Pools) -> pd.DataFrame:
    """Re-use some of `contacts` for new people (names, e-mail, phone, birth date replaced; the truth now
    names the new owner); returns the new people."""
    chosen = contacts.index[rng.random(len(contacts)) < REASSIGNED_SHARE]
    newcomers = generate_population(len(chosen), seed, pools, id_offset=REASSIGNED_IDS + win.batch * 10**6)
    for i, person in zip(chosen, newcomers.to_dict("records")):
        contacts.loc[i, ["first_name", "last_name", "email", "phone"]] = [
            person["first_name"], person["last_name"], person["email"], person["phone"]]
        contacts.loc[i, "birth_date"] = person["date_of_birth"].strftime("%Y-%m-%d")
        truth.loc[truth["source_record_id"] == str(contacts.loc[i, "contact_id"]), "true_id"] = person["true_id"]
    return newcomers


def _apply_change(frame: pd.DataFrame, truth: pd.DataFrame, key: str, people: dict[str, dict],
                  columns: dict[str, str]) -> None:
    owner = dict(zip(truth["source_record_id"], truth["true_id"]))
    for i, rid in zip(frame.index, frame[key].astype(str)):
        person = people[owner[rid]]
        for col, attr in columns.items():
            frame.at[i, col] = person[attr]


def concat(a: PersonSources, b: PersonSources) -> PersonSources:
    """Two batches' person sources as one (new people and changed ones of the same batch)."""
    return PersonSources(
        pd.concat([a.accounts, b.accounts], ignore_index=True), pd.concat([a.contacts, b.contacts], ignore_index=True),
        pd.concat([a.customers, b.customers], ignore_index=True), pd.concat([a.loyalty, b.loyalty], ignore_index=True),
        a.profiles + b.profiles,
        {k: pd.concat([a.truth.get(k), b.truth.get(k)], ignore_index=True) for k in a.truth | b.truth},
        pd.concat([a.deleted_contacts, b.deleted_contacts], ignore_index=True),
    )


# --- the whole batch -------------------------------------------------------------------------------------
def generate(people: int, out: Path | str, seed: int = 42, batch: int = 1, fraction: float | None = None) -> Manifest:
    """Write batch `batch` for a population of `people` into `out`; returns its manifest. A later batch's new
    and changed people are together `fraction` of `people` (default NEW_PEOPLE_SHARE + CHANGED_SHARE), its
    events in proportion."""
    if people < 1:
        raise ValueError("people must be at least 1")
    started = time.monotonic()
    out = Path(out)
    pools = build_pools(seed)
    base_people = generate_population(people, seed, pools)
    win = window(batch)
    if batch == 1:
        population = base_people
        written = person_sources(base_people, pools, seed, win)
        owners = written
        scale = 1.0
    else:
        base = person_sources(base_people, pools, seed, BATCH1)
        share = (fraction if fraction is not None else NEW_PEOPLE_SHARE + CHANGED_SHARE) / (NEW_PEOPLE_SHARE + CHANGED_SHARE)
        new_n = max(1, int(people * NEW_PEOPLE_SHARE * share))
        new_people = generate_population(new_n, seed, pools, id_offset=people + (batch - 2) * new_n)
        fresh = person_sources(new_people, pools, seed, win)
        changed, changed_people = changed_records(base, base_people, pools, seed, win, CHANGED_SHARE * share)
        written = concat(fresh, changed)
        owners = concat(base, fresh)
        population = pd.concat([changed_people, new_people], ignore_index=True)
        base_people = pd.concat([base_people, new_people], ignore_index=True)
        scale = DELTA_EVENT_SCALE * share
    manifest = Manifest(people=people, seed=seed, batch=batch)
    tag = f"b{batch:02d}"
    _write_people(written, out, tag, manifest)
    events = _write_events(base_people, owners, seed, win, scale, out, tag, manifest)
    _write_truth(written, events, population, out, tag)
    manifest.seconds = round(time.monotonic() - started, 2)
    (out / "truth" / f"manifest_{tag}.json").write_text(json.dumps(manifest.__dict__, indent=2) + "\n")
    return manifest


def _write_people(p: PersonSources, out: Path, tag: str, manifest: Manifest) -> None:
    manifest.add("crm_accounts", write_csv(p.accounts, out / "crm" / f"accounts_{tag}.csv"), len(p.accounts), out)
    manifest.add("crm_contacts", write_csv(p.contacts, out / "crm" / f"contacts_{tag}.csv"), len(p.contacts), out)
    if len(p.deleted_contacts):
        manifest.add("crm_contacts_deleted", write_csv(p.deleted_contacts, out / "crm" / f"deleted_contacts_{tag}.csv"),
                     len(p.deleted_contacts), out)
    manifest.add("shop_customers", write_parquet(_utc(p.customers, "registered_at", "updated_at"),
                                                 out / "shop" / f"customers_{tag}.parquet"), len(p.customers), out)
    manifest.add("loyalty_members", write_csv(p.loyalty, out / "loyalty" / f"members_{tag}.csv", sep=";"),
                 len(p.loyalty), out)
    manifest.add("social_profiles", write_json_documents(p.profiles, out / "social" / f"profiles_{tag}"),
                 len(p.profiles), out)


def _write_events(people: pd.DataFrame, owners: PersonSources, seed: int, win: src.Window, scale: float,
                  out: Path, tag: str, manifest: Manifest) -> dict[str, pd.DataFrame]:
    customers = owners.customers.drop_duplicates("customer_no")
    shop_truth = owners.truth["shop_customers"]
    owner_of = dict(zip(shop_truth["source_record_id"], shop_truth["true_id"]))
    cust_owner = customers["customer_no"].astype(str).map(owner_of)
    locale = cust_owner.map(dict(zip(people["true_id"], people["locale"])))
    orders, t_orders = src.shop_orders(customers, cust_owner, stream(seed, win.batch, "orders"), win, 3.0 * scale, locale)
    manifest.add("shop_orders", write_parquet(_utc(orders, "ordered_at"), out / "shop" / f"orders_{tag}.parquet",
                                              ORDER_SCHEMA), len(orders), out)
    first_customer = {t: int(c) for c, t in zip(customers["customer_no"], cust_owner)}
    tickets, t_tickets = src.tickets(people, first_customer, stream(seed, win.batch, "tickets"), win, 0.2 * scale)
    manifest.add("support_tickets", write_ndjson(tickets, out / "support" / f"tickets_{tag}"), len(tickets), out)
    profile_truth = owners.truth["social_profiles"]
    owner_of_profile = dict(zip(profile_truth["source_record_id"], profile_truth["true_id"]))
    profile_owner = pd.Series([owner_of_profile[p["profile_id"]] for p in owners.profiles], dtype=object)
    posts, t_posts = src.social_posts(owners.profiles, profile_owner, stream(seed, win.batch, "posts"), win, 3.0 * scale)
    manifest.add("social_posts", write_ndjson(posts, out / "social" / f"posts_{tag}"), len(posts), out)
    primary = customers.assign(true_id=cust_owner.to_numpy()).drop_duplicates("true_id")
    logins = dict(zip(primary["true_id"], primary["login"]))
    # Web events are the largest source: built and written per chunk of people to bound memory.
    # A visit has at least a page view, so below a third of the volume fewer people visit rather than
    # each visit shrinking: a small batch's web events stay in proportion to it.
    rng, files, truths, count = stream(seed, win.batch, "web"), [], [], 0
    for start in range(0, len(people), WEB_CHUNK_PEOPLE):
        clicks, t_clicks = src.clickstream(people.iloc[start:start + WEB_CHUNK_PEOPLE].reset_index(drop=True),
                                           logins, rng, win, 8.0 * max(scale, 0.3), 0.6 * min(1.0, scale / 0.3))
        files += write_ndjson(clicks, out / "web" / f"clickstream_{tag}", first_part=len(files) + 1)
        truths.append(t_clicks)
        count += len(clicks)
    manifest.add("web_events", files, count, out)
    return {"shop_orders": t_orders, "support_tickets": t_tickets, "social_posts": t_posts,
            "web_events": pd.concat(truths, ignore_index=True)}


def _write_truth(p: PersonSources, events: dict[str, pd.DataFrame], people: pd.DataFrame, out: Path, tag: str) -> None:
    folder = out / "truth"
    folder.mkdir(parents=True, exist_ok=True)
    records = pd.concat(p.truth.values(), ignore_index=True)
    records["deleted"] = records["deleted"].astype("boolean").fillna(False).astype(bool) if "deleted" in records else False
    records.to_csv(folder / f"person_records_{tag}.csv", index=False)
    pd.concat(events.values(), ignore_index=True).rename(columns={"source_record_id": "event_id"}).to_csv(
        folder / f"events_{tag}.csv", index=False)
    columns = ["true_id", "first_name", "last_name", "maiden_name", "gender", "date_of_birth", "email", "family_email",
               "phone", "street_name", "house_number", "city", "postcode", "region", "country", "household_id",
               "login_id", "social_handle", "company", "job_title", "marketing_consent"]
    write_parquet(people[columns].astype({"date_of_birth": "datetime64[s]"}), folder / f"people_{tag}.parquet")


def next_batch(out: Path | str) -> int:
    """The batch number after the newest manifest in `out` (1 for an empty folder)."""
    found = [int(p.stem.split("_b")[-1]) for p in Path(out).glob("truth/manifest_b*.json")]
    return max(found, default=0) + 1
