-- Indexes for the properties clients filter and sort on most. Partial per collection, so that a
-- write touches only the indexes of its own collection; `dto_ticks` turns a DateTimeOffset into
-- its instant (registered by the store on every connection).
CREATE INDEX entity_status_status ON entity
    (tenant, parent, json_extract(body, '$.status'), seq)
    WHERE collection = 'deviceCompliancePolicies/deviceStatuses';
CREATE INDEX entity_status_upn ON entity
    (tenant, parent, json_extract(body, '$.userPrincipalName'), seq)
    WHERE collection = 'deviceCompliancePolicies/deviceStatuses';
CREATE INDEX entity_status_reported ON entity
    (tenant, parent, dto_ticks(json_extract(body, '$.lastReportedDateTime')), seq)
    WHERE collection = 'deviceCompliancePolicies/deviceStatuses';
CREATE INDEX entity_policy_name ON entity
    (tenant, parent, json_extract(body, '$.displayName'), seq)
    WHERE collection = 'deviceCompliancePolicies';
CREATE INDEX entity_policy_modified ON entity
    (tenant, parent, dto_ticks(json_extract(body, '$.lastModifiedDateTime')), seq)
    WHERE collection = 'deviceCompliancePolicies';
