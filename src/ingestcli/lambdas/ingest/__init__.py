"""The ingest function: queue messages in, validated rows to DynamoDB, a report per upload."""
