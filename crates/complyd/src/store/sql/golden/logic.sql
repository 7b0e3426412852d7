-- userName eq 'a' and userName eq 'b' and userName eq 'c'
sqlite: (json_extract(body, '$.userName') = ?1 AND json_extract(body, '$.userName') = ?2 AND json_extract(body, '$.userName') = ?3)
  params: [Text("a"), Text("b"), Text("c")]
postgres: (((body->>'userName') COLLATE "C") = ($1::text COLLATE "C") AND ((body->>'userName') COLLATE "C") = ($2::text COLLATE "C") AND ((body->>'userName') COLLATE "C") = ($3::text COLLATE "C"))
  params: [Text("a"), Text("b"), Text("c")]

-- userName eq 'a' or userName eq 'b' or userName eq 'c'
sqlite: (json_extract(body, '$.userName') = ?1 OR json_extract(body, '$.userName') = ?2 OR json_extract(body, '$.userName') = ?3)
  params: [Text("a"), Text("b"), Text("c")]
postgres: (((body->>'userName') COLLATE "C") = ($1::text COLLATE "C") OR ((body->>'userName') COLLATE "C") = ($2::text COLLATE "C") OR ((body->>'userName') COLLATE "C") = ($3::text COLLATE "C"))
  params: [Text("a"), Text("b"), Text("c")]

-- (userName eq 'a' or userName eq 'b') and not (status eq 'error')
sqlite: ((json_extract(body, '$.userName') = ?1 OR json_extract(body, '$.userName') = ?2) AND NOT COALESCE(json_extract(body, '$.status') = ?3, FALSE))
  params: [Text("a"), Text("b"), Text("error")]
postgres: ((((body->>'userName') COLLATE "C") = ($1::text COLLATE "C") OR ((body->>'userName') COLLATE "C") = ($2::text COLLATE "C")) AND NOT COALESCE(((body->>'status') COLLATE "C") = ($3::text COLLATE "C"), FALSE))
  params: [Text("a"), Text("b"), Text("error")]

-- not (userName eq 'a' and platform eq 1)
sqlite: NOT COALESCE((json_extract(body, '$.userName') = ?1 AND json_extract(body, '$.platform') = ?2), FALSE)
  params: [Text("a"), Int(1)]
postgres: NOT COALESCE((((body->>'userName') COLLATE "C") = ($1::text COLLATE "C") AND (((body->>'platform') COLLATE "C"))::bigint = $2::bigint), FALSE)
  params: [Text("a"), Int(1)]

-- And([]) is true
sqlite: TRUE
  params: []
postgres: TRUE
  params: []

-- Or([]) is false
sqlite: FALSE
  params: []
postgres: FALSE
  params: []

-- In with no members is false
sqlite: FALSE
  params: []
postgres: FALSE
  params: []

-- a one-term Or keeps its parentheses
sqlite: (TRUE)
  params: []
postgres: (TRUE)
  params: []

