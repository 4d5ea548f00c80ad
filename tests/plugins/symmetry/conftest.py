"""Make the synthetic-data helpers importable as ``symmetry_synthetic`` (tests and contrib/bench)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
