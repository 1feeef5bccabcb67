"""Where an interrupted run stands, so that running the same command again resumes it.

One checkpoint per (stack, target table): it remembers the run's window and trip filter, and per shard the last
sequence number whose changes are written. It is saved only after the writes it covers, so a resumed run may
project a page twice (harmless: the projection is idempotent) but never skips one; shards read at once each move
their own position. When a read fails, what was read before it is written and saved first, so the rerun reads none
of it again. It is removed when the run ends.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from replay.errors import BadInput


def default_checkpoint_dir() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "trip-replay"


@dataclass
class Checkpoint:
    stack_name: str
    target_table: str
    window_start: str | None  # ISO-8601; None: from the start of retention
    window_end: str
    trip_ids: list[str]
    after_sequence: dict[str, str] = field(default_factory=dict)  # shard id -> last written sequence number
    finished_shards: list[str] = field(default_factory=list)


_LONGEST_NAME = 200  # file names may have 255 bytes; stack (128) and table (255) names together may not fit


class CheckpointFile:
    def __init__(self, directory: Path, stack_name: str, target_table: str) -> None:
        name = f"{stack_name}--{target_table}"
        if len(name) > _LONGEST_NAME:  # still one file per (stack, table): the cut part is kept as a digest
            name = f"{name[: _LONGEST_NAME - 17]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        self.path = directory / f"{name}.json"

    def load(self) -> Checkpoint | None:
        if not self.path.exists():
            return None
        try:
            return Checkpoint(**json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise BadInput(f"checkpoint {self.path} is unreadable ({error}): remove it or pass --restart") from None

    def ensure_writable(self) -> None:
        """Fail before the run starts, not at its first checkpoint, when the directory cannot hold one."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BadInput(f"--checkpoint-dir {self.path.parent}: {error.strerror or error}") from None
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise BadInput(f"--checkpoint-dir {self.path.parent}: not writable")

    def save(self, checkpoint: Checkpoint) -> None:
        self.ensure_writable()
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(asdict(checkpoint), indent=2))
        partial.replace(self.path)  # atomic: an interruption leaves the previous checkpoint whole

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
