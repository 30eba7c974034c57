"""Match keys: the columns the linkage model compares and blocks on, derived from person records.

`linkage_input` is a pure transform: the first name's nickname forms (Bill and William agree), phonetic
codes of both names (typos that keep the sound block together), the postcode's first three characters, the
letters of a social handle beside first+last name of records without one and the e-mail user name (people
build handles from their names, often cut short: '@pete_schmid81' spells the start of 'peteschmidt'), and
the handle's digits apart ('@gavingreen50' and '@gavingreen17' are two accounts).
"""

from __future__ import annotations

from functools import lru_cache

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.config import LINKAGE_KEYS
from c360.frames import local_frame
from c360.reference.nicknames import nickname_pairs
from c360.silver.standardise import fold_text

# letters of a handle (or of first+last name, or of an e-mail user name) that block candidates together for
# predictions: common names make these blocks grow with the square of the records, so ten letters, not eight
HANDLE_BLOCK = 10
TRAINING_BLOCK = 8  # letters of the EM training key handle_name_key (training runs on a bounded sample)
MIN_SPELLED = 6  # letters a handle must have to count as spelling a name or e-mail user name

@lru_cache(maxsize=1)
def nickname_forms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """name key -> every canonical name it may stand for (itself included), from the nickname table."""
    forms: dict[str, set[str]] = {}
    for canonical, nick in nickname_pairs():
        key_c, key_n = fold_text(canonical), fold_text(nick)
        forms.setdefault(key_n, {key_n}).add(key_c)
        forms.setdefault(key_c, {key_c})
    return tuple(sorted((k, tuple(sorted(v))) for k, v in forms.items()))


def _phonetic(column: str) -> F.Column:
    return F.when(F.length(column) > 1, F.soundex(column))


def linkage_input(records: DataFrame) -> DataFrame:
    """Person records -> the match keys (config.LINKAGE_KEYS) the model compares and blocks on."""
    spark: SparkSession = records.sparkSession
    lookup = local_frame(spark, [(k, list(v)) for k, v in nickname_forms()], "first_name_key string, _forms array<string>")
    out = records.join(F.broadcast(lookup), "first_name_key", "left")
    letters = F.regexp_replace(F.lower("social_handle"), "[^a-z]", "")
    handle = F.when(letters != "", letters)
    digits = F.regexp_replace(F.lower("social_handle"), "[^0-9]", "")
    name = F.when(F.col("social_handle").isNull() & (F.length("last_name_key") > 1),
                  F.concat("first_name_key", "last_name_key"))
    email_letters = F.regexp_replace(F.substring_index("email_key", "@", 1), "[^a-z]", "")
    email_user = F.when(F.length(email_letters) >= MIN_SPELLED, email_letters)
    out = out.withColumn("handle_key", handle).withColumn("handle_digits", F.when(handle.isNotNull() & (digits != ""), digits))
    out = out.withColumn("name_prefix_key", name).withColumn("email_user_key", email_user)
    keys = out.select(
        "record_key", "source", "first_name_key", "last_name_key",
        F.when(F.col("first_name_key").isNotNull(),
               F.coalesce("_forms", F.array("first_name_key"))).alias("first_name_forms"),
        _phonetic("first_name_key").alias("first_name_phonetic"), _phonetic("last_name_key").alias("last_name_phonetic"),
        "email_key", "phone_e164", "date_of_birth", "street_key", "city_key", "postcode_key",
        F.substring("postcode_key", 1, 3).alias("postcode_prefix"), "company_key",
        "handle_key", "handle_digits", "name_prefix_key", "email_user_key",
        F.substring("handle_key", 1, HANDLE_BLOCK).alias("handle_block"),
        F.substring("name_prefix_key", 1, HANDLE_BLOCK).alias("name_block"),
        F.substring("email_user_key", 1, HANDLE_BLOCK).alias("email_block"),
        F.substring(F.coalesce("handle_key", "name_prefix_key"), 1, TRAINING_BLOCK).alias("handle_name_key"),
        F.when(F.col("first_name_key").isNotNull() & F.col("last_name_key").isNotNull(),
               F.concat_ws(" ", "first_name_key", "last_name_key")).alias("full_name_key"),
    )
    return keys.select(*LINKAGE_KEYS)
