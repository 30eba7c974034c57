"""Generate synthetic demo data: `python scripts/generate_data.py --people N --out DIR [--seed S] [--delta]`."""

import sys
from pathlib import Path

try:
    from c360.cli import main
except ModuleNotFoundError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
    from c360.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))
