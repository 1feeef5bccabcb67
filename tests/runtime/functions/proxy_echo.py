"""A Lambda proxy integration that answers with the event API Gateway sent it, for the tests to inspect."""

import json


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "single"},
        "multiValueHeaders": {"X-Echo": ["first", "second"]},
        "body": json.dumps(event),
    }
