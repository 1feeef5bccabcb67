"""The CDK constructs of TripSagaStack, one per concern, composed by ``infra.stack.TripSagaStack``."""
