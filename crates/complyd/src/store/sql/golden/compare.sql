-- userName eq 'a'
sqlite: json_extract(body, '$.userName') = ?1
  params: [Text("a")]
postgres: ((body->>'userName') COLLATE "C") = ($1::text COLLATE "C")
  params: [Text("a")]

-- userName ne 'a'
sqlite: json_extract(body, '$.userName') IS NOT ?1
  params: [Text("a")]
postgres: ((body->>'userName') COLLATE "C") IS DISTINCT FROM ($1::text COLLATE "C")
  params: [Text("a")]

-- id eq 'x'
sqlite: id = ?1
  params: [Text("x")]
postgres: id = ($1::text COLLATE "C")
  params: [Text("x")]

-- platform ge 3
sqlite: json_extract(body, '$.platform') >= ?1
  params: [Int(3)]
postgres: (((body->>'platform') COLLATE "C"))::bigint >= $1::bigint
  params: [Int(3)]

-- lastReportedDateTime gt 2024-01-01T00:00:00Z
sqlite: dto_ticks(json_extract(body, '$.lastReportedDateTime')) > ?1
  params: [Int(638396640000000000)]
postgres: dto_ticks(((body->>'lastReportedDateTime') COLLATE "C")) > $1::bigint
  params: [Int(638396640000000000)]

-- status eq 'nonCompliant'
sqlite: json_extract(body, '$.status') = ?1
  params: [Text("nonCompliant")]
postgres: ((body->>'status') COLLATE "C") = ($1::text COLLATE "C")
  params: [Text("nonCompliant")]

-- userName eq userPrincipalName
sqlite: json_extract(body, '$.userName') IS json_extract(body, '$.userPrincipalName')
  params: []
postgres: ((body->>'userName') COLLATE "C") IS NOT DISTINCT FROM ((body->>'userPrincipalName') COLLATE "C")
  params: []

-- userName ne deviceDisplayName
sqlite: json_extract(body, '$.userName') IS NOT json_extract(body, '$.deviceDisplayName')
  params: []
postgres: ((body->>'userName') COLLATE "C") IS DISTINCT FROM ((body->>'deviceDisplayName') COLLATE "C")
  params: []

-- version lt 1.5
sqlite: json_extract(body, '$.version') < ?1
  params: [Real(1.5)]
postgres: (((body->>'version') COLLATE "C"))::bigint < $1::float8
  params: [Real(1.5)]

-- microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true
sqlite: (CASE WHEN type_name IN (?1) THEN json_extract(body, '$.bitLockerEnabled') END) = ?2
  params: [Text("microsoft.graph.windows10CompliancePolicy"), Int(1)]
postgres: (CASE WHEN type_name IN ($1) THEN (((body->>'bitLockerEnabled') COLLATE "C"))::boolean END) = $2::boolean
  params: [Text("microsoft.graph.windows10CompliancePolicy"), Bool(true)]

-- microsoft.graph.windows10CompliancePolicy/deviceCompliancePolicyScript/rulesContent eq 'AA=='
sqlite: (CASE WHEN type_name IN (?1) THEN json_extract(body, '$.deviceCompliancePolicyScript.rulesContent') END) = ?2
  params: [Text("microsoft.graph.windows10CompliancePolicy"), Text("AA==")]
postgres: (CASE WHEN type_name IN ($1) THEN ((body#>>'{deviceCompliancePolicyScript,rulesContent}') COLLATE "C") END) = ($2::text COLLATE "C")
  params: [Text("microsoft.graph.windows10CompliancePolicy"), Text("AA==")]

