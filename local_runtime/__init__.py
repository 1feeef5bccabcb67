"""The local runtime: the synthesized CDK stack running on one machine, with no AWS account and no Docker.

An embedded moto server holds the resources (created from the CDK template by moto's CloudFormation); this
package adds what moto only records: it runs Lambda handlers, polls event source mappings the way Lambda
does, copies TripTable's changes into the Kinesis stream, and serves the REST API.
"""
