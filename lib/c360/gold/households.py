"""Households: customers who share a normalised postal address and surname.

The key is the golden street, postcode and surname in their match forms (`street_key`, `postcode_key`,
`name_key`: 'Hauptstr. 5' and 'Hauptstraße 5', 'MÜLLER' and 'Müller' agree). Two or more customers with the
same key form a household; its id is a hash of the key, so it stays the same across runs as long as the
address and surname do. A customer alone at an address gets no household id.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.silver import standardise as std


def household_keys(profiles: DataFrame) -> DataFrame:
    """customer_id and its household key (null without a full address and surname)."""
    keys = profiles.select("customer_id", F.coalesce(F.col("country"), F.lit("")).alias("_country"),
                           std.street_key(F.col("street")).alias("_street"),
                           std.postcode_key(F.col("postcode")).alias("_postcode"),
                           std.name_key(F.col("last_name")).alias("_surname"))
    complete = F.col("_street").isNotNull() & F.col("_postcode").isNotNull() & (F.coalesce(F.col("_surname"), F.lit("")) != "")
    return keys.select("customer_id", F.when(complete, F.concat_ws("|", "_country", "_postcode", "_street", "_surname")).alias("_key"))


def households(profiles: DataFrame) -> DataFrame:
    """(customer_id, household_id) for customers who share their household key with another customer."""
    # materialised: a filter on the key would otherwise be rewritten onto the long street-key expression,
    # which then outgrows Java's 64 KB method limit in Spark's generated code
    keyed = household_keys(profiles).localCheckpoint().where(F.col("_key").isNotNull())
    size = F.count("*").over(Window.partitionBy("_key"))
    shared = keyed.withColumn("_size", size).where(F.col("_size") >= 2)
    return shared.select("customer_id", F.concat(F.lit("h-"), F.substring(F.sha2("_key", 256), 1, 20)).alias("household_id"))
