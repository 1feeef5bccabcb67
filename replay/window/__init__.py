"""`replay run` (without `--via-mapping`): re-project the change stream's retention window, or a scan of TripTable,
read by the tool itself shard by shard (or segment by segment), checkpointed so that a rerun resumes."""
