"""Events go to the customer of their strongest unambiguous identifier; the rest is reported with a reason."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.gold.attribution import attribute_events, identifier_index

PEOPLE = ("customer_id string, login_id string, loyalty_id string, social_handle string, email_key string, "
          "phone_e164 string, identifiers map<string,string>")
EVENTS = ("event_id string, source string, occurred_at timestamp, event_type string, login_id string, loyalty_id string, "
          "social_handle string, email_key string, phone string, cookie_id string, identifiers map<string,string>")


def test_priority_ambiguity_and_reasons(spark: SparkSession) -> None:
    people = spark.createDataFrame([
        ("A", "anna", None, None, "family@x.de", "+491", {"shop_customer_no": "7"}),
        ("B", None, None, "@bob", "family@x.de", None, {}),
        ("C", None, "LC1", None, "carl@x.de", None, {}),
    ], PEOPLE)
    events = spark.createDataFrame([
        ("e1", "orders", None, "order", None, None, None, "carl@x.de", None, None, {"shop_customer_no": "7"}),  # id wins
        ("e2", "web", None, "page_view", "anna", None, None, None, None, "ck1", {}),
        ("e3", "tickets", None, "ticket", None, None, None, "family@x.de", None, None, {}),        # shared by A and B
        ("e4", "tickets", None, "ticket", None, None, None, "family@x.de", "+491", None, {}),   # phone resolves it
        ("e5", "web", None, "page_view", None, None, None, None, None, "ck9", {}),
        ("e6", "posts", None, "post", None, None, "@nobody", None, None, None, {}),
        ("e7", "tickets", None, "ticket", None, None, None, None, None, None, {}),
    ], EVENTS)
    resolved, unresolved = attribute_events(events, identifier_index(people))
    assert_df_equality(resolved.select("event_id", "customer_id", "resolved_by").orderBy("event_id"),
                       spark.createDataFrame([("e1", "A", "id:shop_customer_no"), ("e2", "A", "login_id"),
                                              ("e4", "A", "phone")], "event_id string, customer_id string, resolved_by string"),
                       ignore_nullable=True)
    assert_df_equality(unresolved.select("event_id", "reason").orderBy("event_id"),
                       spark.createDataFrame([("e3", "ambiguous_identifier"), ("e5", "anonymous_session"),
                                              ("e6", "no_matching_customer"), ("e7", "no_identifier")],
                                             "event_id string, reason string"), ignore_nullable=True)


def test_a_number_written_without_a_country_code_meets_the_customers_number_abroad(spark: SparkSession) -> None:
    people = spark.createDataFrame([("US", None, None, None, None, "+12022588706", {}),
                                    ("DE", None, None, None, None, "+4930123456789", {}),
                                    ("X1", None, None, None, None, "+4917100000042", {}),
                                    ("X2", None, None, None, None, "+4417100000042", {})], PEOPLE)
    schema = EVENTS + ", phone_local string"
    events = spark.createDataFrame([
        # '(202) 258-8706' read in the default country (Germany) is no German customer's: its digits are the US one's
        ("t1", "tickets", None, "ticket", None, None, None, None, "+492022588706", None, {}, "22588706"),
        # written with its country code, a number is only ever matched whole
        ("t2", "tickets", None, "ticket", None, None, None, None, "+3930123456789", None, {}, None),
        # the same last digits at two customers: ambiguous, never used
        ("t3", "tickets", None, "ticket", None, None, None, None, "+4917100000042x", None, {}, "00000042"),
    ], schema)
    resolved, unresolved = attribute_events(events, identifier_index(people))
    assert [(r.event_id, r.customer_id, r.resolved_by) for r in resolved.collect()] == [("t1", "US", "phone_local")]
    assert sorted((r.event_id, r.reason) for r in unresolved.collect()) == [
        ("t2", "no_matching_customer"), ("t3", "ambiguous_identifier")]
