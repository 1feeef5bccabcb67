"""Lambda: functions run in sandboxes (worker processes), as the Lambda service runs them, minus the container."""
