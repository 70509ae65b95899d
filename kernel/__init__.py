"""The small shared kernel every Outbound service builds on."""
