"""The saga's state within Step Functions' quota: 256 KiB (262,144 bytes) of input, results and errors, whose
overflow (`States.DataLimitExceeded`) no Catch can handle.

ReserveFlight, the first writer, refuses an execution input whose compact JSON (UTF-8) plus the worst case of what
the state machine adds after it (`WORST_CASE_ADDITIONS`: six step results of at most `RESULT_LIMIT` bytes under
`results` / `compensations`, and `error`, `compensation_error`, `refusal` of at most `ERROR_LIMIT` bytes each)
exceeds the quota. The steps keep what they add bounded: a result's `status` and `reason` and a refusal's
message are clipped (`clipped`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

STATE_QUOTA = 262_144
MESSAGE_LIMIT = 1_000  # characters of a refusal's message (the error's Cause carries it, escaped twice)
STATUS_LIMIT = 32  # characters of a result's status (another writer's item may carry any)
REASON_LIMIT = 120  # characters of a result's reason
# A result: trip_id (128 characters) + status + reason + version, at 12 bytes a character in the worst escaping.
RESULT_LIMIT = 4_096
# One caught error {"Error", "Cause"}: the Lambda error document (message, type, request id, a stack trace of
# the handler's few frames) as a JSON string: 14 bytes a message character in the worst escaping, plus 10,000.
ERROR_LIMIT = MESSAGE_LIMIT * 14 + 10_000
_SKELETON = {
    "results": dict.fromkeys(("flight", "hotel", "payment"), 0),
    "compensations": dict.fromkeys(("payment", "hotel", "flight"), 0),
    "error": 0,
    "compensation_error": 0,
    "refusal": 0,
}
# The skeleton's keys and punctuation (its braces replaced by the comma joining it to the input), less its nine
# placeholder zeros, plus the bounded values.
WORST_CASE_ADDITIONS = (
    len(json.dumps(_SKELETON, separators=(",", ":"))) - 2 + 1 - 9 + 6 * RESULT_LIMIT + 3 * ERROR_LIMIT
)
INPUT_BUDGET = STATE_QUOTA - WORST_CASE_ADDITIONS


def input_size(event: Mapping[str, Any]) -> int:
    """The execution input's size as Step Functions counts it: UTF-8 bytes of its compact JSON."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode())


def clipped(text: str, limit: int) -> str:
    """`text`, or its start and its length when longer than `limit` characters."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
