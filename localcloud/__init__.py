"""The embedded local cloud: runs template.yaml's functions on moto's server with no Docker."""
