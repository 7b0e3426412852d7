-- roleScopeTagIds/any(t: t eq '0')
sqlite: EXISTS (SELECT 1 FROM json_each(body, '$.roleScopeTagIds') AS e1 WHERE json_type(body, '$.roleScopeTagIds') = 'array' AND e1.value = ?1)
  params: [Text("0")]
postgres: EXISTS (SELECT 1 FROM json_array_elements((CASE WHEN json_typeof((body#>'{roleScopeTagIds}')) = 'array' THEN (body#>'{roleScopeTagIds}') ELSE '[]'::json END)) AS e1(value) WHERE ((e1.value#>>'{}') COLLATE "C") = ($1::text COLLATE "C"))
  params: [Text("0")]

-- roleScopeTagIds/all(t: t ne '0')
sqlite: NOT EXISTS (SELECT 1 FROM json_each(body, '$.roleScopeTagIds') AS e1 WHERE json_type(body, '$.roleScopeTagIds') = 'array' AND NOT COALESCE(e1.value IS NOT ?1, FALSE))
  params: [Text("0")]
postgres: NOT EXISTS (SELECT 1 FROM json_array_elements((CASE WHEN json_typeof((body#>'{roleScopeTagIds}')) = 'array' THEN (body#>'{roleScopeTagIds}') ELSE '[]'::json END)) AS e1(value) WHERE NOT COALESCE(((e1.value#>>'{}') COLLATE "C") IS DISTINCT FROM ($1::text COLLATE "C"), FALSE))
  params: [Text("0")]

-- roleScopeTagIds/any()
sqlite: COALESCE(CASE WHEN json_type(body, '$.roleScopeTagIds') = 'array' THEN json_array_length(body, '$.roleScopeTagIds') ELSE 0 END, 0) > 0
  params: []
postgres: COALESCE(json_array_length((CASE WHEN json_typeof((body#>'{roleScopeTagIds}')) = 'array' THEN (body#>'{roleScopeTagIds}') ELSE '[]'::json END)), 0) > 0
  params: []

-- microsoft.graph.windows10CompliancePolicy/validOperatingSystemBuildRanges/any(r: r/lowestVersion eq '10')
sqlite: EXISTS (SELECT 1 FROM json_each(body, '$.validOperatingSystemBuildRanges') AS e1 WHERE json_type(body, '$.validOperatingSystemBuildRanges') = 'array' AND json_extract(e1.value, '$.lowestVersion') = ?1)
  params: [Text("10")]
postgres: EXISTS (SELECT 1 FROM json_array_elements((CASE WHEN json_typeof((body#>'{validOperatingSystemBuildRanges}')) = 'array' THEN (body#>'{validOperatingSystemBuildRanges}') ELSE '[]'::json END)) AS e1(value) WHERE ((e1.value->>'lowestVersion') COLLATE "C") = ($1::text COLLATE "C"))
  params: [Text("10")]

-- microsoft.graph.windows10CompliancePolicy/validOperatingSystemBuildRanges/all(r: roleScopeTagIds/any(t: t eq r/description))
sqlite: NOT EXISTS (SELECT 1 FROM json_each(body, '$.validOperatingSystemBuildRanges') AS e1 WHERE json_type(body, '$.validOperatingSystemBuildRanges') = 'array' AND NOT COALESCE(EXISTS (SELECT 1 FROM json_each(body, '$.roleScopeTagIds') AS e2 WHERE json_type(body, '$.roleScopeTagIds') = 'array' AND e2.value IS json_extract(e1.value, '$.description')), FALSE))
  params: []
postgres: NOT EXISTS (SELECT 1 FROM json_array_elements((CASE WHEN json_typeof((body#>'{validOperatingSystemBuildRanges}')) = 'array' THEN (body#>'{validOperatingSystemBuildRanges}') ELSE '[]'::json END)) AS e1(value) WHERE NOT COALESCE(EXISTS (SELECT 1 FROM json_array_elements((CASE WHEN json_typeof((body#>'{roleScopeTagIds}')) = 'array' THEN (body#>'{roleScopeTagIds}') ELSE '[]'::json END)) AS e2(value) WHERE ((e2.value#>>'{}') COLLATE "C") IS NOT DISTINCT FROM ((e1.value->>'description') COLLATE "C")), FALSE))
  params: []

-- isof('microsoft.graph.iosCompliancePolicy')
sqlite: type_name IN (?1)
  params: [Text("microsoft.graph.iosCompliancePolicy")]
postgres: type_name IN ($1)
  params: [Text("microsoft.graph.iosCompliancePolicy")]

-- isof('microsoft.graph.deviceCompliancePolicy')
sqlite: type_name IN (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
  params: [Text("microsoft.graph.androidCompliancePolicy"), Text("microsoft.graph.androidDeviceOwnerCompliancePolicy"), Text("microsoft.graph.androidForWorkCompliancePolicy"), Text("microsoft.graph.androidWorkProfileCompliancePolicy"), Text("microsoft.graph.aospDeviceOwnerCompliancePolicy"), Text("microsoft.graph.defaultDeviceCompliancePolicy"), Text("microsoft.graph.iosCompliancePolicy"), Text("microsoft.graph.macOSCompliancePolicy"), Text("microsoft.graph.windows10CompliancePolicy"), Text("microsoft.graph.windows10MobileCompliancePolicy"), Text("microsoft.graph.windows81CompliancePolicy"), Text("microsoft.graph.windowsPhone81CompliancePolicy"), Text("microsoft.graph.deviceCompliancePolicy")]
postgres: type_name IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  params: [Text("microsoft.graph.androidCompliancePolicy"), Text("microsoft.graph.androidDeviceOwnerCompliancePolicy"), Text("microsoft.graph.androidForWorkCompliancePolicy"), Text("microsoft.graph.androidWorkProfileCompliancePolicy"), Text("microsoft.graph.aospDeviceOwnerCompliancePolicy"), Text("microsoft.graph.defaultDeviceCompliancePolicy"), Text("microsoft.graph.iosCompliancePolicy"), Text("microsoft.graph.macOSCompliancePolicy"), Text("microsoft.graph.windows10CompliancePolicy"), Text("microsoft.graph.windows10MobileCompliancePolicy"), Text("microsoft.graph.windows81CompliancePolicy"), Text("microsoft.graph.windowsPhone81CompliancePolicy"), Text("microsoft.graph.deviceCompliancePolicy")]

-- true
sqlite: TRUE
  params: []
postgres: TRUE
  params: []

-- false
sqlite: FALSE
  params: []
postgres: FALSE
  params: []

-- target/groupId eq 'g'
sqlite: json_extract(body, '$.target.groupId') = ?1
  params: [Text("g")]
postgres: ((body#>>'{target,groupId}') COLLATE "C") = ($1::text COLLATE "C")
  params: [Text("g")]

