-- page: the members of g1
sqlite: SELECT seq, id, type_name, body, shape FROM entity WHERE +tenant = ?1 AND +collection = 'directoryObjects' AND +parent = ?2 AND id IN (SELECT id FROM entity WHERE tenant = ?3 AND collection = 'directoryObjects/members' AND parent = ?4) ORDER BY seq ASC LIMIT ?5 OFFSET ?6
  params: [Text("t1"), Text(""), Text("t1"), Text("g1"), Int(100), Int(0)]
postgres: SELECT seq, id, type_name, body::text AS body, shape FROM entity WHERE tenant = ($1::text COLLATE "C") AND collection = 'directoryObjects' AND parent = ($2::text COLLATE "C") AND id IN (SELECT id FROM entity WHERE tenant = ($3::text COLLATE "C") AND collection = 'directoryObjects/members' AND parent = ($4::text COLLATE "C")) ORDER BY seq ASC LIMIT $5::bigint OFFSET $6::bigint
  params: [Text("t1"), Text(""), Text("t1"), Text("g1"), Int(100), Int(0)]

-- page: every group g1 is in, at any level
sqlite: SELECT seq, id, type_name, body, shape FROM entity WHERE +tenant = ?1 AND +collection = 'directoryObjects' AND +parent = ?2 AND id IN (WITH RECURSIVE walk(x) AS (SELECT parent FROM entity WHERE tenant = ?3 AND collection = 'directoryObjects/members' AND id = ?4 UNION SELECT link.parent FROM walk CROSS JOIN entity AS link WHERE link.id = walk.x AND +link.tenant = ?5 AND +link.collection = 'directoryObjects/members') SELECT x FROM walk WHERE x <> ?6) AND type_name IN (?7) ORDER BY seq ASC LIMIT ?8 OFFSET ?9
  params: [Text("t1"), Text(""), Text("t1"), Text("g1"), Text("t1"), Text("g1"), Text("microsoft.graph.group"), Int(100), Int(0)]
postgres: SELECT seq, id, type_name, body::text AS body, shape FROM entity WHERE tenant = ($1::text COLLATE "C") AND collection = 'directoryObjects' AND parent = ($2::text COLLATE "C") AND id IN (WITH RECURSIVE walk(x) AS (SELECT parent FROM entity WHERE tenant = ($3::text COLLATE "C") AND collection = 'directoryObjects/members' AND id = ($4::text COLLATE "C") UNION SELECT link.parent FROM walk, entity AS link WHERE link.id = walk.x AND link.tenant = ($5::text COLLATE "C") AND link.collection = 'directoryObjects/members') SELECT x FROM walk WHERE x <> ($6::text COLLATE "C")) AND type_name IN ($7) ORDER BY seq ASC LIMIT $8::bigint OFFSET $9::bigint
  params: [Text("t1"), Text(""), Text("t1"), Text("g1"), Text("t1"), Text("g1"), Text("microsoft.graph.group"), Int(100), Int(0)]

-- count: every member of g1, at any level
sqlite: SELECT count(*) AS n FROM entity WHERE +tenant = ?1 AND +collection = 'directoryObjects' AND +parent = ?2 AND id IN (WITH RECURSIVE walk(x) AS (SELECT id FROM entity WHERE tenant = ?3 AND collection = 'directoryObjects/members' AND parent = ?4 UNION SELECT link.id FROM walk CROSS JOIN entity AS link WHERE link.parent = walk.x AND link.tenant = ?5 AND link.collection = 'directoryObjects/members') SELECT x FROM walk WHERE x <> ?6)
  params: [Text("t1"), Text(""), Text("t1"), Text("g1"), Text("t1"), Text("g1")]
postgres: SELECT count(*) AS n FROM entity WHERE tenant = ($1::text COLLATE "C") AND collection = 'directoryObjects' AND parent = ($2::text COLLATE "C") AND id IN (WITH RECURSIVE walk(x) AS (SELECT id FROM entity WHERE tenant = ($3::text COLLATE "C") AND collection = 'directoryObjects/members' AND parent = ($4::text COLLATE "C") UNION SELECT link.id FROM walk, entity AS link WHERE link.parent = walk.x AND link.tenant = ($5::text COLLATE "C") AND link.collection = 'directoryObjects/members') SELECT x FROM walk WHERE x <> ($6::text COLLATE "C"))
  params: [Text("t1"), Text(""), Text("t1"), Text("g1"), Text("t1"), Text("g1")]

