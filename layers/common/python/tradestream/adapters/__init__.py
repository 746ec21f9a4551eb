"""Adapters: the ports implemented on DynamoDB (pynamodb), SQS, Kinesis and SSM."""
