"""What the two operator CLIs (`trip-replay`, `trip-local`) share: how they answer a usage mistake and a group run
without a command. Each tool imports this package, not the other tool's modules."""
