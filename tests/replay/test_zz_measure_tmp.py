import time
from typing import Any
from tests.replay.conftest import History

def test_measure(history: History, replay: Any) -> None:
    t = time.monotonic()
    for n in range(1000):
        history.saga(f"trip-{n:04d}", payment_fails=n % 3 == 0, minute=n % 60)
    print("wrote history", time.monotonic() - t, len(history.changes))
    t = time.monotonic()
    history.project_like_the_consumers()
    print("consumers", time.monotonic() - t)
    code, result = replay("run", "--from", "1h", "--target-table", "Rebuild", "--verify", "--checkpoint-dir", replay.checkpoint_dir)
    print({k: result[k] for k in ("total", "trips", "documents_written", "dynamodb_requests", "kinesis_requests", "seconds")}, len(result["differences"]))
    code, result = replay("run", "--from", "1h", "--target-table", "Rebuild2", "--checkpoint-dir", replay.checkpoint_dir)
    print("no verify", {k: result[k] for k in ("total", "trips", "documents_written", "dynamodb_requests", "kinesis_requests", "seconds")})
    code, result = replay("run", "--from", "1h", "--checkpoint-dir", replay.checkpoint_dir)
    print("live", {k: result[k] for k in ("total", "trips", "documents_written", "dynamodb_requests", "kinesis_requests", "seconds")})
