"""The wheel's own proof (packaging/test.sh runs it in a fresh venv): the `complyd` fixture and
the official Graph SDKs, nothing else. Async tests run on anyio's pytest plugin (httpx's)."""

import pytest
from kiota_abstractions.api_error import APIError
from msgraph.generated.models.windows10_compliance_policy import Windows10CompliancePolicy
from msgraph_beta.generated.models.role_scope_tag import RoleScopeTag

pytestmark = pytest.mark.anyio


async def create(tenant, name):
    policy = Windows10CompliancePolicy(display_name=name, password_required=True)
    return await tenant.graph.device_management.device_compliance_policies.post(policy)


async def names(tenant):
    page = await tenant.graph.device_management.device_compliance_policies.get()
    return sorted(p.display_name for p in page.value)


async def test_a_policy_is_created_and_read_back(complyd):
    created = await create(complyd, "Baseline")
    policies = complyd.graph.device_management.device_compliance_policies
    fetched = await policies.by_device_compliance_policy_id(created.id).get()
    assert isinstance(fetched, Windows10CompliancePolicy)
    assert (fetched.id, fetched.display_name, fetched.password_required) == (created.id, "Baseline", True)


# The next two run against the same server (session scope), each in its own tenant: whatever
# their order, each sees its own policy only.
async def test_first_tenant_sees_only_its_policy(complyd):
    await create(complyd, "first")
    assert await names(complyd) == ["first"]


async def test_second_tenant_sees_only_its_policy(complyd):
    await create(complyd, "second")
    assert await names(complyd) == ["second"]


async def test_tenants_are_isolated_and_reset_empties_one(complyd):
    other = complyd.server.tenant()
    await create(complyd, "mine")
    await create(other, "theirs")
    assert (await names(complyd), await names(other)) == (["mine"], ["theirs"])
    assert complyd.reset() >= 1
    assert (await names(complyd), await names(other)) == ([], ["theirs"])


async def test_beta_client_and_token_factory(complyd):
    tag = await complyd.graph_beta.device_management.role_scope_tags.post(RoleScopeTag(display_name="Lab"))
    listed = await complyd.graph_beta.device_management.role_scope_tags.get()
    assert sorted(t.display_name for t in listed.value) == ["Default", "Lab"]
    reader = complyd.graph_client("v1.0", complyd.token(scopes=["DeviceManagementConfiguration.Read.All"]))
    assert (await reader.device_management.device_compliance_policies.get()).value == []
    with pytest.raises(APIError) as refused:
        await reader.device_management.device_compliance_policies.post(Windows10CompliancePolicy(display_name="x"))
    assert refused.value.response_status_code == 403
    assert tag.id != "0"


@pytest.mark.complyd("--fidelity", "intune")
async def test_a_marked_test_gets_a_server_of_its_own(complyd):
    # The live service's fidelity: a policy needs its block action, so this one is refused.
    with pytest.raises(APIError) as refused:
        await create(complyd, "no actions")
    assert refused.value.response_status_code == 400
    assert complyd.server.args == ["--fidelity", "intune"]
