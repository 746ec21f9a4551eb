"""DynamoDB adapters: one pynamodb Model per table, bound to the table name from the environment."""
