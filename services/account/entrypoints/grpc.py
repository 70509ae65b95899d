"""AccountService servicer: proto in, use case, proto out."""

from __future__ import annotations

from kernel import errors
from kernel.timefmt import iso
from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from services.account.domain.credits import Balance
from services.account.service import AccountService, Organization


def _credits(balance: Balance) -> pb.CreditBalance:
    return pb.CreditBalance(balance=balance.balance, reserved=balance.reserved, available=balance.available)


def _org(org: Organization) -> pb.Organization:
    return pb.Organization(id=org.id, name=org.name, created_at=iso(org.created_at))


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, service: AccountService):
        self.service = service

    async def CreateOrganization(self, request, context):
        created = await self.service.create_organization(request.name, request.credits)
        return pb.CreateOrganizationResponse(organization=_org(created.organization), api_key=created.api_key,
                                             api_key_id=created.api_key_id)

    async def GetOrganization(self, request, context):
        return pb.GetOrganizationResponse(organization=_org(await self.service.get_organization(request.organization_id)))

    async def AuthenticateApiKey(self, request, context):
        org_id, key_id = await self.service.authenticate(request.api_key)
        return pb.AuthenticateApiKeyResponse(organization_id=org_id, api_key_id=key_id)

    async def CreateApiKey(self, request, context):
        key = await self.service.create_api_key(request.organization_id, request.name)
        return pb.CreateApiKeyResponse(api_key_id=key.key_id, api_key=key.plaintext)

    async def RevokeApiKey(self, request, context):
        await self.service.revoke_api_key(request.api_key_id)
        return pb.RevokeApiKeyResponse()

    async def GetCredits(self, request, context):
        return pb.GetCreditsResponse(credits=_credits(await self.service.get_credits(request.organization_id)))

    async def AddCredits(self, request, context):
        balance = await self.service.add_credits(request.organization_id, request.amount)
        return pb.AddCreditsResponse(credits=_credits(balance))

    async def ReserveCredits(self, request, context):
        outcome = await self.service.reserve(request.organization_id, request.reservation_id, request.amount)
        return pb.ReserveCreditsResponse(reserved=outcome.reserved, credits=_credits(outcome.credits))

    async def SettleReservation(self, request, context):
        outcome = await self.service.settle(request.reservation_id, request.amount)
        return pb.SettleReservationResponse(credits=_credits(outcome.credits), charged=outcome.charged)

    async def ReleaseReservation(self, request, context):
        balance = await self.service.release(request.reservation_id)
        return pb.ReleaseReservationResponse(credits=_credits(balance))

    async def ReserveCreditsBatch(self, request, context):
        answers = await self.service.reserve_many(
            [(item.organization_id, item.reservation_id, item.amount) for item in request.items])
        outcomes = []
        for answer in answers:
            if isinstance(answer, errors.DomainError):
                outcomes.append(pb.ReserveCreditsOutcome(error=answer.name, error_message=answer.message))
            else:
                outcomes.append(pb.ReserveCreditsOutcome(reserved=answer.reserved, credits=_credits(answer.credits)))
        return pb.ReserveCreditsBatchResponse(outcomes=outcomes)

    async def SettleReservations(self, request, context):
        answers = await self.service.settle_many([(item.reservation_id, item.amount) for item in request.items])
        outcomes = []
        for answer in answers:
            if isinstance(answer, errors.DomainError):
                outcomes.append(pb.SettleReservationOutcome(error=answer.name, error_message=answer.message))
            else:
                outcomes.append(pb.SettleReservationOutcome(charged=answer.charged, credits=_credits(answer.credits)))
        return pb.SettleReservationsResponse(outcomes=outcomes)
