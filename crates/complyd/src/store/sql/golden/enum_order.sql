-- status gt 'compliant'
sqlite: (CASE json_extract(body, '$.status') WHEN ?1 THEN ?2 WHEN ?3 THEN ?4 WHEN ?5 THEN ?6 WHEN ?7 THEN ?8 WHEN ?9 THEN ?10 WHEN ?11 THEN ?12 WHEN ?13 THEN ?14 WHEN ?15 THEN ?16 END) > ?17
  params: [Text("unknown"), Int(0), Text("notApplicable"), Int(1), Text("compliant"), Int(2), Text("remediated"), Int(3), Text("nonCompliant"), Int(4), Text("error"), Int(5), Text("conflict"), Int(6), Text("notAssigned"), Int(7), Int(2)]
postgres: (CASE ((body->>'status') COLLATE "C") WHEN ($1::text COLLATE "C") THEN $2::bigint WHEN ($3::text COLLATE "C") THEN $4::bigint WHEN ($5::text COLLATE "C") THEN $6::bigint WHEN ($7::text COLLATE "C") THEN $8::bigint WHEN ($9::text COLLATE "C") THEN $10::bigint WHEN ($11::text COLLATE "C") THEN $12::bigint WHEN ($13::text COLLATE "C") THEN $14::bigint WHEN ($15::text COLLATE "C") THEN $16::bigint END) > $17::bigint
  params: [Text("unknown"), Int(0), Text("notApplicable"), Int(1), Text("compliant"), Int(2), Text("remediated"), Int(3), Text("nonCompliant"), Int(4), Text("error"), Int(5), Text("conflict"), Int(6), Text("notAssigned"), Int(7), Int(2)]

-- status le microsoft.graph.complianceStatus'error'
sqlite: (CASE json_extract(body, '$.status') WHEN ?1 THEN ?2 WHEN ?3 THEN ?4 WHEN ?5 THEN ?6 WHEN ?7 THEN ?8 WHEN ?9 THEN ?10 WHEN ?11 THEN ?12 WHEN ?13 THEN ?14 WHEN ?15 THEN ?16 END) <= ?17
  params: [Text("unknown"), Int(0), Text("notApplicable"), Int(1), Text("compliant"), Int(2), Text("remediated"), Int(3), Text("nonCompliant"), Int(4), Text("error"), Int(5), Text("conflict"), Int(6), Text("notAssigned"), Int(7), Int(5)]
postgres: (CASE ((body->>'status') COLLATE "C") WHEN ($1::text COLLATE "C") THEN $2::bigint WHEN ($3::text COLLATE "C") THEN $4::bigint WHEN ($5::text COLLATE "C") THEN $6::bigint WHEN ($7::text COLLATE "C") THEN $8::bigint WHEN ($9::text COLLATE "C") THEN $10::bigint WHEN ($11::text COLLATE "C") THEN $12::bigint WHEN ($13::text COLLATE "C") THEN $14::bigint WHEN ($15::text COLLATE "C") THEN $16::bigint END) <= $17::bigint
  params: [Text("unknown"), Int(0), Text("notApplicable"), Int(1), Text("compliant"), Int(2), Text("remediated"), Int(3), Text("nonCompliant"), Int(4), Text("error"), Int(5), Text("conflict"), Int(6), Text("notAssigned"), Int(7), Int(5)]

