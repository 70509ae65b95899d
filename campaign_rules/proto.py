"""The campaign rules as the program proto carries them: the one input form every context parses
(program from its API, execution from the program it launches, trigger from its start request).

Generated messages are data, not I/O: importing them keeps the rules pure.
"""

from __future__ import annotations

from outbound.program.v1 import program_pb2 as pb

AnsweringMachineMessage = pb.AnsweringMachine
AutoPauseRuleMessage = pb.AutoPauseRule
AutoPauseRulesMessage = pb.AutoPauseRules
CallingHoursMessage = pb.CallingHours
CallingWindowsMessage = pb.CallingWindows
PauseWindowsMessage = pb.PauseWindows
PauseWindowItemMessage = pb.PauseWindowItem
PauseWindowAdvancedItemMessage = pb.PauseWindowAdvancedItem
TimeOfDayMessage = pb.TimeOfDay
RetryStrategyMessage = pb.RetryStrategy
RetryOutcomesMessage = pb.RetryOutcomes
TriggerConditionMessage = pb.TriggerCondition
TriggerOffsetMessage = pb.TriggerOffset

__all__ = [
    "AutoPauseRuleMessage", "AutoPauseRulesMessage", "PauseWindowAdvancedItemMessage", "PauseWindowItemMessage",
    "PauseWindowsMessage", "RetryStrategyMessage", "TimeOfDayMessage", "TriggerConditionMessage",
    "TriggerOffsetMessage",
    "CallingHoursMessage", "CallingWindowsMessage", "RetryOutcomesMessage", "AnsweringMachineMessage",
]
