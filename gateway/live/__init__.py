"""Live views of executions for the gateway's streaming routes."""
