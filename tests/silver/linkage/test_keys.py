"""Match keys: the nickname table and the keys derived from person records."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.silver.linkage.keys import linkage_input, nickname_forms

SCHEMA = ("record_key string, source string, first_name_key string, last_name_key string, social_handle string, "
          "email_key string, phone_e164 string, date_of_birth date, street_key string, city_key string, "
          "postcode_key string, company_key string")


def test_nickname_table_maps_diminutives_to_their_names() -> None:
    forms = dict(nickname_forms())
    assert "william" in forms["bill"] and "robert" in forms["bob"]
    assert "josef" in forms["sepp"], "the German table is part of it"
    assert "bill" in forms["bill"] and "garcia" not in forms


def test_linkage_input_derives_match_keys(spark: SparkSession) -> None:
    records = spark.createDataFrame([
        ("crm:1", "crm", "bill", "schmidt", None, "w.schmidt.1980@web.de", None, None, None, "berlin", "10115", None),
        ("social:9", "social", "peter", None, "@pete_schmid81", "ps@x.de", None, None, None, None, None, None),
    ], SCHEMA)
    got = linkage_input(records).select("record_key", "first_name_forms", "last_name_phonetic", "postcode_prefix",
                                        "handle_key", "handle_digits", "name_prefix_key", "email_user_key", "handle_block", "name_block",
                                        "email_block", "full_name_key")
    forms = dict(nickname_forms())
    expected = spark.createDataFrame([
        ("crm:1", list(forms["bill"]), "S530", "101", None, None, "billschmidt", "wschmidt", None, "billschmid", "wschmidt",
         "bill schmidt"),
        # an e-mail user name of fewer than six letters spells nothing
        ("social:9", list(forms["peter"]), None, None, "peteschmid", "81", None, None, "peteschmid", None, None, None),
    ], "record_key string, first_name_forms array<string>, last_name_phonetic string, postcode_prefix string, "
       "handle_key string, handle_digits string, name_prefix_key string, email_user_key string, handle_block string, "
       "name_block string, email_block string, full_name_key string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
