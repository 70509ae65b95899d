"""The campaign rules shared by program (validates them), execution and trigger (evaluate them).

One module per rule, each with its value types, its parsing from the program proto (checked,
with the API's field names), its one stored JSON form and its evaluation: `pause_windows`,
`retry`, `auto_pause`, `trigger_condition`, `calling_hours`, `answering_machine`; `limits` holds
the numbers every context shares.
Pure: no I/O, no clock (callers pass `now`).
"""
