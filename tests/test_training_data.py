"""The NLU training data and the held-out set meet their written requirements
(counts, unaccented and teencode shares, no duplicates, entity markup); see
tests/data/check_training_data.py for the full list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).parent / "data" / "check_training_data.py"


def test_training_data_meets_its_requirements():
    result = subprocess.run([sys.executable, str(CHECK), "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
