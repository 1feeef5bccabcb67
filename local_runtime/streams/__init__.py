"""The streams: event source mappings polled as Lambda polls them (a consumer per shard, batches delivered by
Lambda's rules), and the table's Kinesis streaming destination, which copies DynamoDB's changes to Kinesis."""
