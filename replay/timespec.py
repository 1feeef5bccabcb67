"""Times as operators type them: ISO-8601 (UTC when no zone is given) or an age such as 90m, 6h, 3d."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from replay.errors import BadInput

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, option: str, now: datetime | None = None) -> datetime:
    age = _AGE.match(text.strip())
    if age:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{option} {text!r} is neither ISO-8601 (2024-05-01T03:00Z) nor an age (90m, 6h, 3d)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
