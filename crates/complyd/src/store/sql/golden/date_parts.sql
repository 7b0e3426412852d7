-- year(lastReportedDateTime) eq 2024
sqlite: dto_part(json_extract(body, '$.lastReportedDateTime'), ?1) = ?2
  params: [Text("year"), Int(2024)]
postgres: dto_part(((body->>'lastReportedDateTime') COLLATE "C"), ($1::text COLLATE "C")) = $2::bigint
  params: [Text("year"), Int(2024)]

-- month(lastReportedDateTime) eq 3
sqlite: dto_part(json_extract(body, '$.lastReportedDateTime'), ?1) = ?2
  params: [Text("month"), Int(3)]
postgres: dto_part(((body->>'lastReportedDateTime') COLLATE "C"), ($1::text COLLATE "C")) = $2::bigint
  params: [Text("month"), Int(3)]

-- day(lastReportedDateTime) le 2
sqlite: dto_part(json_extract(body, '$.lastReportedDateTime'), ?1) <= ?2
  params: [Text("day"), Int(2)]
postgres: dto_part(((body->>'lastReportedDateTime') COLLATE "C"), ($1::text COLLATE "C")) <= $2::bigint
  params: [Text("day"), Int(2)]

-- hour(lastReportedDateTime) eq 10
sqlite: dto_part(json_extract(body, '$.lastReportedDateTime'), ?1) = ?2
  params: [Text("hour"), Int(10)]
postgres: dto_part(((body->>'lastReportedDateTime') COLLATE "C"), ($1::text COLLATE "C")) = $2::bigint
  params: [Text("hour"), Int(10)]

-- minute(lastReportedDateTime) eq 0
sqlite: dto_part(json_extract(body, '$.lastReportedDateTime'), ?1) = ?2
  params: [Text("minute"), Int(0)]
postgres: dto_part(((body->>'lastReportedDateTime') COLLATE "C"), ($1::text COLLATE "C")) = $2::bigint
  params: [Text("minute"), Int(0)]

-- second(lastReportedDateTime) ne 0
sqlite: dto_part(json_extract(body, '$.lastReportedDateTime'), ?1) IS NOT ?2
  params: [Text("second"), Int(0)]
postgres: dto_part(((body->>'lastReportedDateTime') COLLATE "C"), ($1::text COLLATE "C")) IS DISTINCT FROM $2::bigint
  params: [Text("second"), Int(0)]

