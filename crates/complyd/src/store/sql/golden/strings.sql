-- contains(userName, 'a')
sqlite: instr(json_extract(body, '$.userName'), ?1) > 0
  params: [Text("a")]
postgres: strpos(((body->>'userName') COLLATE "C"), ($1::text COLLATE "C")) > 0
  params: [Text("a")]

-- startswith(userName, 'a')
sqlite: (json_extract(body, '$.userName') >= ?1 AND json_extract(body, '$.userName') < ?2 AND substr(json_extract(body, '$.userName'), 1, length(?3)) = ?3)
  params: [Text("a"), Text("b"), Text("a")]
postgres: (((body->>'userName') COLLATE "C") >= ($1::text COLLATE "C") AND ((body->>'userName') COLLATE "C") < ($2::text COLLATE "C") AND left(((body->>'userName') COLLATE "C"), length(($3::text COLLATE "C"))) = ($3::text COLLATE "C"))
  params: [Text("a"), Text("b"), Text("a")]

-- endswith(userName, 'a')
sqlite: (length(?1) = 0 OR substr(json_extract(body, '$.userName'), -length(?1)) = ?1)
  params: [Text("a")]
postgres: right(((body->>'userName') COLLATE "C"), length(($1::text COLLATE "C"))) = ($1::text COLLATE "C")
  params: [Text("a")]

-- contains(tolower(userName), toupper('A'))
sqlite: instr(lower(json_extract(body, '$.userName')), upper(?1)) > 0
  params: [Text("A")]
postgres: strpos(lower(((body->>'userName') COLLATE "C")), upper(($1::text COLLATE "C"))) > 0
  params: [Text("A")]

-- trim(userName) eq 'a'
sqlite: trim(json_extract(body, '$.userName')) = ?1
  params: [Text("a")]
postgres: trim(((body->>'userName') COLLATE "C")) = ($1::text COLLATE "C")
  params: [Text("a")]

-- length(userName) gt 3
sqlite: length(json_extract(body, '$.userName')) > ?1
  params: [Int(3)]
postgres: length(((body->>'userName') COLLATE "C")) > $1::bigint
  params: [Int(3)]

