"""Fails on purpose: packaging/test.sh checks that pytest then shows the server's log."""


def test_fails_and_shows_the_log(complyd):
    status, _ = complyd.request("GET", "/v1.0/deviceManagement/deviceCompliancePolicies/missing")
    assert status == 200
