"""Proto ↔ domain for the account context."""

from __future__ import annotations

from campaign_rules.contact_limits import ContactLimits
from kernel import errors
from kernel.timefmt import iso
from outbound.account.v1 import account_pb2 as pb
from services.account.adapters.listings import ApiKeyListed
from services.account.batches import ReserveItem, SettleItem
from services.account.domain import api_keys
from services.account.domain.credits import Balance
from services.account.domain.dispatch_limits import DispatchLimits, LimitsChange, ResolvedLimits
from services.account.domain.organizations import Organization
from services.account.domain.reservations import Reservation, Settlement


def credits_to_proto(balance: Balance) -> pb.CreditBalance:
    return pb.CreditBalance(balance=balance.balance, reserved=balance.reserved, available=balance.available)


def organization_to_proto(org: Organization) -> pb.Organization:
    return pb.Organization(id=org.id, name=org.name, created_at=iso(org.created_at))


def api_key_to_proto(key: ApiKeyListed) -> pb.ApiKeyInfo:
    return pb.ApiKeyInfo(id=key.id, name=key.name, prefix=api_keys.PREFIX + key.id, created_at=iso(key.created_at),
                         revoked_at=iso(key.revoked_at) if key.revoked_at else "")


def contact_limits_from_proto(message: pb.ContactLimits) -> ContactLimits:
    return ContactLimits(message.max_attempts, message.per_days)


def contact_limits_to_proto(limits: ContactLimits) -> pb.ContactLimits:
    return pb.ContactLimits(max_attempts=limits.max_attempts, per_days=limits.per_days)


def dispatch_limits_to_proto(limits: DispatchLimits) -> pb.DispatchLimits:
    return pb.DispatchLimits(max_concurrent_calls=limits.max_concurrent_calls,
                             max_calls_per_second=limits.max_calls_per_second, weight=limits.weight)


def limits_change_from_proto(request: pb.SetDispatchLimitsRequest) -> LimitsChange:
    """An absent optional field stays None: the stored value is kept."""
    return LimitsChange(
        request.max_concurrent_calls if request.HasField("max_concurrent_calls") else None,
        request.max_calls_per_second if request.HasField("max_calls_per_second") else None,
        request.weight if request.HasField("weight") else None,
        reset=request.reset)


def get_dispatch_limits_response(resolved: ResolvedLimits) -> pb.GetDispatchLimitsResponse:
    return pb.GetDispatchLimitsResponse(limits=dispatch_limits_to_proto(resolved.limits),
                                        defaulted=resolved.defaulted)


def set_dispatch_limits_response(resolved: ResolvedLimits) -> pb.SetDispatchLimitsResponse:
    return pb.SetDispatchLimitsResponse(limits=dispatch_limits_to_proto(resolved.limits),
                                        defaulted=resolved.defaulted)


def reserve_items(request: pb.ReserveCreditsBatchRequest) -> list[ReserveItem]:
    return [(item.organization_id, item.reservation_id, item.amount) for item in request.items]


def settle_items(request: pb.SettleReservationsRequest) -> list[SettleItem]:
    return [(item.reservation_id, item.amount) for item in request.items]


def reserve_outcome(answer: Reservation | errors.DomainError) -> pb.ReserveCreditsOutcome:
    """An item's answer: its outcome, or the name and message of its error."""
    if isinstance(answer, errors.DomainError):
        return pb.ReserveCreditsOutcome(error=answer.name, error_message=answer.message)
    return pb.ReserveCreditsOutcome(reserved=answer.reserved, credits=credits_to_proto(answer.credits))


def settle_outcome(answer: Settlement | errors.DomainError) -> pb.SettleReservationOutcome:
    if isinstance(answer, errors.DomainError):
        return pb.SettleReservationOutcome(error=answer.name, error_message=answer.message)
    return pb.SettleReservationOutcome(charged=answer.charged, credits=credits_to_proto(answer.credits))
