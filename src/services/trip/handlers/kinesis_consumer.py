"""KinesisConsumer: projects the TripTable changes its Kinesis streaming destination carries into TripSearchTable."""

from services.trip.changes import Source
from services.trip.consumer import lambda_handler_for

lambda_handler = lambda_handler_for(Source.KINESIS)
