"""spark-submit entry point for the pipeline: the same as `c360 run`.

    spark-submit --py-files c360.zip jobs/run_pipeline.py --config conf/demo.yaml [--stage bronze]

On a cluster without c360 installed, ship it with --py-files (see docs/operations/cluster.md); from a checkout the library
folder beside this file is used.
"""

import sys
from pathlib import Path

try:
    from c360.cli import main
except ModuleNotFoundError:  # running from a checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
    from c360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
