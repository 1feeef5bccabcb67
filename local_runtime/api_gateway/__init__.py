"""API Gateway: the stack's REST API stages, and its requests served through Lambda proxy integrations."""
