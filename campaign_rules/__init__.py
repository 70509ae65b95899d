"""The campaign rules shared by program (validates them), execution and trigger (evaluate them)."""
