import pytest
from msgraph.generated.models.windows10_compliance_policy import Windows10CompliancePolicy

@pytest.mark.anyio
async def test_policy_round_trip(complyd):
    policies = complyd.graph.device_management.device_compliance_policies
    created = await policies.post(Windows10CompliancePolicy(display_name="Baseline"))
    read = await policies.by_device_compliance_policy_id(created.id).get()
    assert read.display_name == "Baseline"
