"""AccountService servicer: proto in, use case, proto out."""

from __future__ import annotations

from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from services.account.batches import ReservationBatches
from services.account.entrypoints.mapping import (
    api_key_to_proto,
    contact_limits_from_proto,
    contact_limits_to_proto,
    credits_to_proto,
    dispatch_limits_to_proto,
    get_dispatch_limits_response,
    limits_change_from_proto,
    organization_to_proto,
    reserve_items,
    reserve_outcome,
    set_dispatch_limits_response,
    settle_items,
    settle_outcome,
)
from services.account.service import AccountService


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, service: AccountService, batches: ReservationBatches):
        self._service = service
        self._batches = batches

    async def CreateOrganization(self, request: pb.CreateOrganizationRequest, context) -> pb.CreateOrganizationResponse:
        created = await self._service.create_organization(request.name, request.credits)
        return pb.CreateOrganizationResponse(organization=organization_to_proto(created.organization),
                                             api_key=created.api_key, api_key_id=created.api_key_id)

    async def GetOrganization(self, request: pb.GetOrganizationRequest, context) -> pb.GetOrganizationResponse:
        org = await self._service.get_organization(request.organization_id)
        return pb.GetOrganizationResponse(organization=organization_to_proto(org))

    async def AuthenticateApiKey(self, request: pb.AuthenticateApiKeyRequest,
                                 context) -> pb.AuthenticateApiKeyResponse:
        org_id, key_id = await self._service.authenticate(request.api_key)
        return pb.AuthenticateApiKeyResponse(organization_id=org_id, api_key_id=key_id)

    async def ListOrganizations(self, request: pb.ListOrganizationsRequest,
                                context) -> pb.ListOrganizationsResponse:
        found = await self._service.list_organizations()
        return pb.ListOrganizationsResponse(organizations=[organization_to_proto(o) for o in found])

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context) -> pb.ListApiKeysResponse:
        found = await self._service.list_api_keys(request.organization_id)
        return pb.ListApiKeysResponse(api_keys=[api_key_to_proto(k) for k in found])

    async def CreateApiKey(self, request: pb.CreateApiKeyRequest, context) -> pb.CreateApiKeyResponse:
        key = await self._service.create_api_key(request.organization_id, request.name)
        return pb.CreateApiKeyResponse(api_key_id=key.key_id, api_key=key.plaintext)

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context) -> pb.RevokeApiKeyResponse:
        await self._service.revoke_api_key(request.api_key_id)
        return pb.RevokeApiKeyResponse()

    async def GetCredits(self, request: pb.GetCreditsRequest, context) -> pb.GetCreditsResponse:
        return pb.GetCreditsResponse(credits=credits_to_proto(await self._service.get_credits(request.organization_id)))

    async def AddCredits(self, request: pb.AddCreditsRequest, context) -> pb.AddCreditsResponse:
        balance = await self._service.add_credits(request.organization_id, request.amount)
        return pb.AddCreditsResponse(credits=credits_to_proto(balance))

    async def ReserveCredits(self, request: pb.ReserveCreditsRequest, context) -> pb.ReserveCreditsResponse:
        outcome = await self._service.reserve(request.organization_id, request.reservation_id, request.amount)
        return pb.ReserveCreditsResponse(reserved=outcome.reserved, credits=credits_to_proto(outcome.credits))

    async def SettleReservation(self, request: pb.SettleReservationRequest, context) -> pb.SettleReservationResponse:
        outcome = await self._service.settle(request.reservation_id, request.amount)
        return pb.SettleReservationResponse(credits=credits_to_proto(outcome.credits), charged=outcome.charged)

    async def ReleaseReservation(self, request: pb.ReleaseReservationRequest,
                                 context) -> pb.ReleaseReservationResponse:
        balance = await self._service.release(request.reservation_id)
        return pb.ReleaseReservationResponse(credits=credits_to_proto(balance))

    async def ReserveCreditsBatch(self, request: pb.ReserveCreditsBatchRequest,
                                  context) -> pb.ReserveCreditsBatchResponse:
        answers = await self._batches.reserve_many(reserve_items(request))
        return pb.ReserveCreditsBatchResponse(outcomes=[reserve_outcome(a) for a in answers])

    async def SettleReservations(self, request: pb.SettleReservationsRequest,
                                 context) -> pb.SettleReservationsResponse:
        answers = await self._batches.settle_many(settle_items(request))
        return pb.SettleReservationsResponse(outcomes=[settle_outcome(a) for a in answers])

    async def GetContactLimits(self, request: pb.GetContactLimitsRequest, context) -> pb.GetContactLimitsResponse:
        limits = await self._service.get_contact_limits(request.organization_id)
        return pb.GetContactLimitsResponse(limits=contact_limits_to_proto(limits) if limits else None)

    async def SetContactLimits(self, request: pb.SetContactLimitsRequest, context) -> pb.SetContactLimitsResponse:
        wanted = contact_limits_from_proto(request.limits) if request.HasField("limits") else None
        stored = await self._service.set_contact_limits(request.organization_id, wanted)
        return pb.SetContactLimitsResponse(limits=contact_limits_to_proto(stored) if stored else None)

    async def GetDispatchLimits(self, request: pb.GetDispatchLimitsRequest, context) -> pb.GetDispatchLimitsResponse:
        resolved = await self._service.get_dispatch_limits(request.organization_id)
        return get_dispatch_limits_response(resolved)

    async def SetDispatchLimits(self, request: pb.SetDispatchLimitsRequest, context) -> pb.SetDispatchLimitsResponse:
        resolved = await self._service.set_dispatch_limits(request.organization_id, limits_change_from_proto(request))
        return set_dispatch_limits_response(resolved)

    async def ListDispatchLimits(self, request: pb.ListDispatchLimitsRequest,
                                 context) -> pb.ListDispatchLimitsResponse:
        found = await self._service.list_dispatch_limits(list(request.organization_ids))
        return pb.ListDispatchLimitsResponse(
            limits={org: dispatch_limits_to_proto(limits) for org, limits in found.items()})
