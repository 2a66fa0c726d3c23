"""The embedded local stack: runs template.yaml's functions, API, bucket and queues without Docker."""
