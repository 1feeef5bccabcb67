"""Replay: rebuild and repair TripSearchTable from TripTable's change history, and work the projection's DLQ.

The tool projects through the Lambda code itself (`src/services/trip`), whose import root is `src/`: make it
importable however the tool is started (`python -m replay` from the repo, or the `trip-replay` console script).
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
