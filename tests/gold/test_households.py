"""Households: customers sharing a normalised address and surname; a customer alone gets none."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.gold.households import households

SCHEMA = "customer_id string, street string, postcode string, last_name string, country string"


def test_shared_normalised_address_and_surname(spark: SparkSession) -> None:
    profiles = spark.createDataFrame([
        ("A", "Hauptstraße 5", "10115", "Müller", "DE"), ("B", "hauptstr. 5", "10 115", "MÜLLER", "DE"),
        ("C", "Hauptstraße 5", "10115", "Schmidt", "DE"),      # other surname
        ("D", "Hauptstraße 7", "10115", "Müller", "DE"),       # other house
        ("E", None, "10115", "Müller", "DE"), ("F", None, "10115", "Müller", "DE"),   # no street: no household
    ], SCHEMA)
    rows = {r.customer_id: r.household_id for r in households(profiles).collect()}
    assert set(rows) == {"A", "B"} and rows["A"] == rows["B"] and rows["A"].startswith("h-")
    again = {r.customer_id: r.household_id for r in households(profiles).collect()}
    assert again == rows
