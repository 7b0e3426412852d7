-- userName eq null
sqlite: json_extract(body, '$.userName') IS NULL
  params: []
postgres: ((body->>'userName') COLLATE "C") IS NULL
  params: []

-- null ne deviceDisplayName
sqlite: json_extract(body, '$.deviceDisplayName') IS NOT NULL
  params: []
postgres: ((body->>'deviceDisplayName') COLLATE "C") IS NOT NULL
  params: []

-- status in ('compliant', 'error')
sqlite: json_extract(body, '$.status') IN (?1, ?2)
  params: [Text("compliant"), Text("error")]
postgres: ((body->>'status') COLLATE "C") IN (($1::text COLLATE "C"), ($2::text COLLATE "C"))
  params: [Text("compliant"), Text("error")]

-- userName in ('a')
sqlite: json_extract(body, '$.userName') IN (?1)
  params: [Text("a")]
postgres: ((body->>'userName') COLLATE "C") IN (($1::text COLLATE "C"))
  params: [Text("a")]

-- microsoft.graph.windows10CompliancePolicy/bitLockerEnabled
sqlite: (CASE WHEN type_name IN (?1) THEN json_extract(body, '$.bitLockerEnabled') END) = 1
  params: [Text("microsoft.graph.windows10CompliancePolicy")]
postgres: (CASE WHEN type_name IN ($1) THEN (((body->>'bitLockerEnabled') COLLATE "C"))::boolean END) IS TRUE
  params: [Text("microsoft.graph.windows10CompliancePolicy")]

-- not microsoft.graph.windows10CompliancePolicy/bitLockerEnabled
sqlite: NOT COALESCE((CASE WHEN type_name IN (?1) THEN json_extract(body, '$.bitLockerEnabled') END) = 1, FALSE)
  params: [Text("microsoft.graph.windows10CompliancePolicy")]
postgres: NOT COALESCE((CASE WHEN type_name IN ($1) THEN (((body->>'bitLockerEnabled') COLLATE "C"))::boolean END) IS TRUE, FALSE)
  params: [Text("microsoft.graph.windows10CompliancePolicy")]

