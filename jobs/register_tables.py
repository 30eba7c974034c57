"""spark-submit entry point that registers the gold tables in the cluster's metastore: `c360 register`.

    spark-submit --packages io.delta:delta-spark_2.13:4.4.1 --py-files c360.zip \
      jobs/register_tables.py --config conf/prod.yaml

Creates views <catalog>.<schema>.<table> pinned to the last completed run's versions for the layers in
gold.catalog (runs re-point them).
"""

import sys
from pathlib import Path

try:
    from c360.cli import main
except ModuleNotFoundError:  # running from a checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
    from c360.cli import main

if __name__ == "__main__":
    sys.exit(main(["register", *sys.argv[1:]]))
