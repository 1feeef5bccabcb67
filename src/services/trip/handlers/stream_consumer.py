"""StreamConsumer: projects TripTable's DynamoDB Streams records into TripSearchTable."""

from services.trip.changes import Source
from services.trip.consumer import lambda_handler_for

lambda_handler = lambda_handler_for(Source.DYNAMODB_STREAMS)
