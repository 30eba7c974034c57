"""The peer: plain Splink 5 on DuckDB, as a strong user would write it, pinned so c360 is compared with one thing.

Input: person records with raw canonical columns (record_key, source, first_name, last_name, full_name,
date_of_birth, email, phone, street, city, postcode, country, social_handle, company, login_id, loyalty_id:
the fields c360 maps on the same set). The cleaning a user does with the same libraries: names split (a full
name written "Last, First" as such), lower-cased, phones in E.164 by libphonenumber (the record's country,
else the default), handles without '@', dates in one format. Comparisons (each only where the data has the
column): NameComparison on first and last name, DateOfBirthComparison, EmailComparison, ExactMatch on phone,
postcode, handle, login and loyalty id, LevenshteinAtThresholds(street, 2), ExactMatch(city) and
ExactMatch(company) with term frequencies. Blocking on first+last name, last name+birth date, postcode+birth
date, first name+birth date, postcode+street, e-mail, phone, handle, login, loyalty id. Prior from exact
first+last+birth date with recall 0.7, u from 5M random pairs, EM on first+last name, on birth date and on
postcode, each session sampled by Splink's own `max_pairs` to at most 10M blocked pairs (ten times c360's
budget: postcode alone blocks 1.7 billion pairs at a million records, which no 4 GB DuckDB finishes). Threshold 0.5 and Splink's connected components. `dedupe_only` over all records, `link_only` when
every source holds no duplicates (FEBRL4).

    python scripts/peer_splink.py records.parquet truth.csv [--link-only] [--country DE]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import duckdb
import pandas as pd

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%d.%m.%Y", "%m/%d/%Y", "%Y/%m/%d")
BLOCKING = (("first_name", "surname"), ("surname", "dob"), ("postcode", "dob"), ("first_name", "dob"), ("postcode", "street"),
            ("email",), ("phone",), ("handle",), ("login_id",), ("loyalty_id",))
EM_RULES = (("first_name", "surname"), ("dob",), ("postcode",))
EM_MAX_PAIRS = 1e7


def _date(text: pd.Series) -> pd.Series:
    text = text.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=text.index)
    for fmt in DATE_FORMATS:
        out = out.fillna(pd.to_datetime(text, format=fmt, errors="coerce"))
    return out.dt.strftime("%Y-%m-%d")


def _column(records: pd.DataFrame, name: str) -> pd.Series:
    return records[name].astype("string") if name in records else pd.Series(None, index=records.index, dtype="string")


def _names(records: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """First and last name: the mapped parts, else the full name split ("Last, First" or "First ... Last")."""
    full = _column(records, "full_name").str.strip()
    comma = full.str.contains(",", na=False)
    before, after = full.str.split(",", n=1).str[0].str.strip(), full.str.split(",", n=1).str[1].str.strip()
    words = full.str.split()
    split_first = after.str.split().str[0].where(comma, words.str[0])
    split_last = before.where(comma, words.str[-1].where(words.str.len() > 1))
    return _column(records, "first_name").fillna(split_first), _column(records, "last_name").fillna(split_last)


def _e164(phones: pd.Series, countries: pd.Series, default_country: str) -> pd.Series:
    """Phones in E.164 by libphonenumber, read in the record's country (a two-letter code) or the default."""
    import phonenumbers

    def one(number: object, country: object) -> str | None:
        if number is None or pd.isna(number) or not str(number).strip():
            return None
        region = str(country).upper() if isinstance(country, str) and len(country) == 2 else default_country
        try:
            parsed = phonenumbers.parse(str(number), region)
        except phonenumbers.NumberParseException:
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return pd.Series([one(n, c) for n, c in zip(phones, countries, strict=True)], index=phones.index, dtype="string")


def clean(records: pd.DataFrame, default_country: str = "DE") -> pd.DataFrame:
    """What a user does before Splink: split names, lower case, E.164 phones, one date format."""
    df = pd.DataFrame({"unique_id": records["record_key"], "source_dataset": records["source"]})
    first, last = _names(records)
    df["first_name"], df["surname"] = first.str.strip().str.lower(), last.str.strip().str.lower()
    df["dob"] = _date(records["date_of_birth"])
    df["email"] = _column(records, "email").str.strip().str.lower()
    df["phone"] = _e164(_column(records, "phone"), _column(records, "country"), default_country)
    df["street"] = _column(records, "street").str.strip().str.lower()
    df["city"] = _column(records, "city").str.strip().str.lower()
    df["postcode"] = _column(records, "postcode").str.replace(" ", "").str.lower()
    df["handle"] = _column(records, "social_handle").str.strip().str.lower().str.lstrip("@")
    df["company"] = _column(records, "company").str.strip().str.lower()
    df["login_id"] = _column(records, "login_id").str.strip().str.lower()
    df["loyalty_id"] = _column(records, "loyalty_id").str.strip()
    return df.replace({"": None}).astype(object).where(df.notna(), None)


def present(df: pd.DataFrame) -> set[str]:
    return {c for c in df.columns if df[c].notna().any()}


def settings(cols: set[str], link_only: bool) -> SettingsCreator:
    comparisons = [c for c, need in (
        (cl.NameComparison("first_name"), "first_name"), (cl.NameComparison("surname"), "surname"),
        (cl.DateOfBirthComparison("dob", input_is_string=True), "dob"), (cl.EmailComparison("email"), "email"),
        (cl.ExactMatch("phone"), "phone"), (cl.ExactMatch("postcode"), "postcode"),
        (cl.LevenshteinAtThresholds("street", 2), "street"),
        (cl.ExactMatch("city").configure(term_frequency_adjustments=True), "city"),
        (cl.ExactMatch("handle"), "handle"), (cl.ExactMatch("login_id"), "login_id"),
        (cl.ExactMatch("loyalty_id"), "loyalty_id"),
        (cl.ExactMatch("company").configure(term_frequency_adjustments=True), "company")) if need in cols]
    return SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only", comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*r) for r in BLOCKING if set(r) <= cols],
        retain_intermediate_calculation_columns=False)


def scores(clusters: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Pairwise P/R/F1 and the shares of true persons split and clusters merged wrongly."""
    joined = clusters.merge(truth, on="record_key")
    cells = joined.groupby(["cluster_id", "true_id"]).size()

    def pairs(sizes: pd.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())
    tp, pred, true = pairs(cells), pairs(cells.groupby(level=0).sum()), pairs(cells.groupby(level=1).sum())
    p, r = tp / max(pred, 1), tp / max(true, 1)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-9), 4),
            "persons_split": round(float((cells.groupby(level=1).size() > 1).mean()), 4),
            "clusters_merged_wrongly": round(float((cells.groupby(level=0).size() > 1).mean()), 4)}


def blocking_recall(con: duckdb.DuckDBPyConnection, rules: list[str]) -> float:
    """Share of true pairs (table truth_pairs: l, r) that a blocking rule generates."""
    where = " or ".join(f"({r})" for r in rules) or "false"
    hit, total = con.execute(
        f"select count(*) filter (where {where}), count(*) from truth_pairs t "
        "join records l on l.unique_id = t.l join records r on r.unique_id = t.r").fetchone()
    return round(hit / max(total, 1), 4)


def run(records: pd.DataFrame, truth: pd.DataFrame, link_only: bool = False, threads: int = 2, memory_limit: str = "4GB",
        default_country: str = "DE") -> dict:
    """Train, predict and cluster; returns timings and scores against `truth` (record_key, true_id)."""
    df = clean(records, default_country)
    cols = present(df)
    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    # the same cap as c360's DuckDB (silver.linkage.duckdb_memory_limit in the bench): DuckDB spills beyond it.
    # Uncapped, DuckDB takes 80% of the machine, and the EM session blocked on postcode at a million records
    # drove this machine into swap
    con.execute(f"SET memory_limit = '{memory_limit}'")
    started = time.monotonic()
    inputs = [df[df.source_dataset == s].reset_index(drop=True) for s in sorted(df.source_dataset.unique())] if link_only else [df]
    api = DuckDBAPI(connection=con)
    linker = Linker([api.register(f) for f in inputs] if link_only else api.register(df), settings(cols, link_only),
                    log_level=logging.WARNING)
    prior = [block_on(*r) for r in (("first_name", "surname", "dob"),) if set(r) <= cols]
    linker.training.estimate_probability_two_random_records_match(prior, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=42)
    for rule in EM_RULES:
        if set(rule) <= cols:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule), max_pairs=EM_MAX_PAIRS)
    train_s = time.monotonic() - started
    started = time.monotonic()
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    comparisons = linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=1.0)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5).as_pandas_dataframe()
    predict_s = time.monotonic() - started
    clusters = clusters[["unique_id", "cluster_id"]].rename(columns={"unique_id": "record_key"})
    t = truth[["record_key", "true_id"]]
    pairs = t.merge(t, on="true_id")
    con.register("truth_pairs", pairs[pairs.record_key_x < pairs.record_key_y].rename(columns={"record_key_x": "l", "record_key_y": "r"}))
    con.register("records", df)
    rules = [" and ".join(f"l.{c} = r.{c}" for c in r) for r in BLOCKING if set(r) <= cols]
    return {"records": len(df), "comparisons": int(comparisons[-1]["cumulative_comparison_count"]) if comparisons else 0,
            "blocking_recall": blocking_recall(con, rules), "train_s": round(train_s, 1),
            "predict_cluster_s": round(predict_s, 1), **scores(clusters, t)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", help="Parquet file of person records (raw canonical columns)")
    parser.add_argument("truth", help="CSV with record_key, true_id")
    parser.add_argument("--link-only", action="store_true")
    parser.add_argument("--country", default="DE", help="region of phone numbers written without a country code")
    args = parser.parse_args()
    print(json.dumps(run(pd.read_parquet(args.records), pd.read_csv(args.truth), args.link_only,
                         default_country=args.country)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
