"""`replay run --via-mapping`: a rebuild that AWS runs, through a temporary copy of the Kinesis consumer and a
temporary event source mapping on the change stream, watched until it has caught up and then removed."""
