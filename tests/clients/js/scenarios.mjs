// Client scenarios run by the official JavaScript Neo4j driver, as a user's app would.
//
// The same scenarios, names and output as ../py_scenarios.py: one JSON object per
// scenario on stdout ({"scenario": ..., "ok": ..., "detail": ...}), exit status 1 if
// any failed. Read that file's docstring for what each backend can answer.
//
// JavaScript specifics: numbers are sent as floats unless wrapped in neo4j.int (the
// fake only ranges over integers, and FalkorDB wants integers), and integers come
// back as neo4j Integer objects (lossless), so comparisons go through `same`.
// FalkorDB only lets this driver in with auth.none(). Against real Neo4j
// (--backend neo4j) writes are read back, bookmarks chain sessions, and the values,
// notifications, reauthentication and cleanup scenarios run as well; a scenario may
// print `facts`, compared between a run straight to the server and one through the
// proxy.

import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import neo4j from 'neo4j-driver'

class ScenarioFailed extends Error {}

function check (condition, message) {
  if (!condition) throw new ScenarioFailed(message)
}

/** Deep equality that knows neo4j Integers and byte arrays. */
function same (a, b) {
  if (neo4j.isInt(a) || neo4j.isInt(b)) return neo4j.isInt(a) && neo4j.isInt(b) && a.equals(b)
  if (a instanceof Int8Array || b instanceof Int8Array) {
    return a instanceof Int8Array && b instanceof Int8Array &&
      a.length === b.length && a.every((byte, i) => byte === b[i])
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => same(item, b[i]))
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every(key => same(a[key], b[key]))
  }
  return a === b
}

function describe (value) {
  if (neo4j.isInt(value)) return `Integer(${value.toString()})`
  if (value instanceof Int8Array) return `Int8Array(${value.length})`
  return JSON.stringify(value)
}

class Context {
  constructor (args, driver) {
    this.args = args
    this.driver = driver
    this.falkordb = args.backend === 'falkordb'
    this.real = args.backend === 'neo4j'
    this.database = args.database
    this.runId = 'r' + randomBytes(6).toString('hex') // plain letters: FalkorDB inlines parameters
  }

  session (config = {}) {
    if (this.database !== undefined) config = { database: this.database, ...config }
    return this.driver.session(config)
  }

  /** Run `query` on a session or transaction; `key` of its only record. */
  async singleValue (runner, query, key, parameters = {}) {
    const { records } = await runner.run(query, parameters)
    check(records.length === 1, `${JSON.stringify(query)} returned ${records.length} records, expected 1`)
    return records[0].get(key)
  }

  async countProbes (runner, step) {
    const count = await this.singleValue(
      runner, 'MATCH (n:ClientProbe {run: $run, step: $step}) RETURN count(n) AS c', 'c',
      { run: this.runId, step })
    return neo4j.integer.toNumber(count)
  }

  async createProbe (runner, step) {
    const created = await this.singleValue(
      runner, 'CREATE (n:ClientProbe {run: $run, step: $step}) RETURN n.step AS step', 'step',
      { run: this.runId, step })
    check(created === step, `CREATE returned ${describe(created)}, expected ${step}`)
  }
}

async function withSession (ctx, config, body) {
  const session = ctx.session(config)
  try {
    return await body(session)
  } finally {
    await session.close()
  }
}

// --------------------------------------------------------------------------- scenarios

async function connectivity (ctx) {
  // Only direct FalkorDB runs ask for more than one attempt: FalkorDB leaves a share
  // of new connections unanswered once others have closed.
  let attempt = 1
  for (; ; attempt++) {
    try {
      await ctx.driver.verifyConnectivity()
      break
    } catch (error) {
      if (attempt >= ctx.args.connectAttempts) throw error // an unanswered handshake ends as an acquisition timeout
    }
  }
  const info = await ctx.driver.getServerInfo()
  check(Boolean(info.agent), 'the server sent no agent string')
  // With neo4j:// the driver connects wherever the routing table points: a table
  // naming anything but the address we were given would bypass a proxy.
  const expectedPort = new URL(ctx.args.uri).port || '7687'
  check(String(info.address).endsWith(`:${expectedPort}`),
    `the driver was routed to ${info.address}, not to port ${expectedPort} of --uri`)
  const retried = attempt > 1 ? ` (connected at attempt ${attempt})` : ''
  const bolt = `${info.protocolVersion.major}.${info.protocolVersion.minor}`
  return [`neo4j-driver ${neo4jVersion}, server ${info.agent}, Bolt ${bolt}${retried}`,
    { agent: info.agent, bolt }]
}

async function autoCommitExecuteQuery (ctx) {
  const { records, keys } = await ctx.driver.executeQuery('RETURN 1 AS x', {}, { database: ctx.database })
  const values = records.map(record => record.get('x'))
  check(values.length === 1 && same(values[0], neo4j.int(1)), `RETURN 1 AS x gave ${values.map(describe)}`)
  check(same(keys, ['x']), `keys were ${JSON.stringify(keys)}`)
  return 'RETURN 1 AS x -> [1]'
}

async function autoCommitSessionRun (ctx) {
  return withSession(ctx, {}, async session => {
    const value = await ctx.singleValue(session, 'RETURN 1 AS x', 'x')
    check(same(value, neo4j.int(1)), `RETURN 1 AS x gave ${describe(value)}`)
    if (ctx.real) {
      check(session.lastBookmarks().length > 0, 'an auto-commit query left no bookmark')
      await ctx.createProbe(session, 'auto')
      const found = await ctx.countProbes(session, 'auto')
      check(found === 1, `an auto-commit write was read back ${found} times, expected once`)
      return ['RETURN 1 AS x -> 1, bookmark received; auto-commit write read back',
        { value: 1, read_back: found }]
    }
    if (!ctx.falkordb) {
      check(session.lastBookmarks().length > 0, 'an auto-commit query left no bookmark')
      return 'RETURN 1 AS x -> 1, bookmark received'
    }
    await ctx.createProbe(session, 'auto')
    const found = await ctx.countProbes(session, 'auto')
    check(found === 1, `an auto-commit write was read back ${found} times, expected once`)
    return 'RETURN 1 AS x -> 1; auto-commit write read back'
  })
}

async function explicitTransactionCommit (ctx) {
  if (ctx.real) return realCommit(ctx)
  return withSession(ctx, {}, async session => {
    const before = session.lastBookmarks()
    let tx = await session.beginTransaction()
    if (ctx.falkordb) {
      await ctx.createProbe(tx, 'commit')
    } else {
      const value = await ctx.singleValue(tx, 'RETURN 1 AS x', 'x')
      check(same(value, neo4j.int(1)), `RETURN 1 AS x in a transaction gave ${describe(value)}`)
    }
    await tx.commit()
    const after = session.lastBookmarks()
    if (ctx.falkordb) { // FalkorDB ignores bookmarks: check the data instead
      tx = await session.beginTransaction()
      const found = await ctx.countProbes(tx, 'commit')
      await tx.commit()
      check(found === 1, `a committed write was read back ${found} times, expected once`)
      return 'committed write read back in a new transaction'
    }
    check(after.length > 0 && !same(after, before), 'COMMIT did not give the session a new bookmark')
    return 'committed; new bookmark'
  })
}

async function explicitTransactionRollback (ctx) {
  if (ctx.real) return realRollback(ctx)
  return withSession(ctx, {}, async session => {
    const tx = await session.beginTransaction()
    if (ctx.falkordb) {
      await ctx.createProbe(tx, 'rollback')
    } else {
      const value = await ctx.singleValue(tx, 'RETURN 1 AS x', 'x')
      check(same(value, neo4j.int(1)), `RETURN 1 AS x in a transaction gave ${describe(value)}`)
    }
    await tx.rollback()
    check(!tx.isOpen(), 'the transaction is still open after rollback')
    // The session stays usable after a rollback.
    const value = await ctx.singleValue(session, 'RETURN 2 AS x', 'x')
    check(same(value, neo4j.int(2)), `RETURN 2 AS x after a rollback gave ${describe(value)}`)
    if (ctx.falkordb) {
      // Read in a transaction, like the write: FalkorDB picks the graph from the
      // shape of RUN's extra map, which differs outside a transaction.
      const reader = await session.beginTransaction()
      const kept = await ctx.countProbes(reader, 'rollback')
      await reader.commit()
      return `rolled back; session usable (FalkorDB is not transactional: ${kept} kept)`
    }
    return 'rolled back; session usable'
  })
}

async function managedTransactionsWithBookmarks (ctx) {
  if (ctx.real) return realCausalChain(ctx)
  const bookmarks = await withSession(ctx, {}, async session => {
    const written = await session.executeWrite(async tx => {
      if (ctx.falkordb) {
        await ctx.createProbe(tx, 'managed')
        return 'managed'
      }
      return ctx.singleValue(tx, 'RETURN 2 AS x', 'x')
    })
    const expected = ctx.falkordb ? 'managed' : neo4j.int(2)
    check(same(written, expected), `executeWrite gave ${describe(written)}`)
    return session.lastBookmarks()
  })
  if (!ctx.falkordb) check(bookmarks.length > 0, 'executeWrite left no bookmark to carry on')

  await withSession(ctx, { bookmarks }, async session => {
    const value = await session.executeRead(async tx => ctx.falkordb
      ? ctx.countProbes(tx, 'managed')
      : ctx.singleValue(tx, 'RETURN 3 AS x', 'x'))
    const expected = ctx.falkordb ? 1 : neo4j.int(3)
    check(same(value, expected), `executeRead after the write gave ${describe(value)}, not ${describe(expected)}`)
  })
  return 'executeWrite, then executeRead in a new session with its bookmarks'
}

async function largeResult (ctx) {
  const rows = ctx.args.rows
  let count = 0
  let last = null
  await withSession(ctx, { fetchSize: 1000 }, async session => {
    const result = session.run('UNWIND range(1, $n) AS i RETURN i', { n: neo4j.int(rows) })
    for await (const record of result) {
      count++
      last = record
    }
  })
  check(count === rows, `streamed ${count} rows, expected ${rows}`)
  check(last !== null && same(last.get('i'), neo4j.int(rows)),
    `the last row was ${last === null ? 'missing' : describe(last.get('i'))}, expected i=${rows}`)
  return [`${count} rows`, { rows: count }]
}

async function serverError (ctx) {
  // Neo4j (and the fake) classify a syntax error. FalkorDB's FAILURE lacks the
  // `neo4j_code` this driver reads on Bolt 5.7, so the code there is 'N/A'.
  const expected = ctx.falkordb ? '' : 'Neo.ClientError.Statement.SyntaxError'
  return withSession(ctx, {}, async session => {
    let caught
    let facts
    try {
      await session.run('THIS IS NOT CYPHER')
    } catch (error) {
      check(error instanceof neo4j.Neo4jError, `got ${error.name}: ${error.message}`)
      check(String(error.code).startsWith(expected), `got ${error.code}, expected ${expected}`)
      caught = `${error.name} ${error.code}`
      facts = { class: error.constructor.name, code: error.code }
      if (ctx.real) {
        Object.assign(facts, gqlErrorFacts(error))
        check(String(facts.gql_status).length === 5, `the error carries no GQL status: ${JSON.stringify(facts)}`)
        caught += ` GQL ${facts.gql_status}`
      }
    }
    check(caught !== undefined, 'a syntax error was accepted')
    const value = await ctx.singleValue(session, 'RETURN 1 AS x', 'x')
    check(same(value, neo4j.int(1)), `RETURN 1 AS x after the error gave ${describe(value)}`)
    return [`${caught}; session usable afterwards`, facts]
  })
}

/** The GQL fields of a driver error and of the causes it chains. */
function gqlErrorFacts (error) {
  const causes = []
  for (let cause = error.cause; cause && causes.length < 5; cause = cause.cause) {
    causes.push(cause.gqlStatus ?? cause.name)
  }
  return {
    gql_status: error.gqlStatus,
    classification: error.rawClassification ?? null,
    description: error.gqlStatusDescription,
    diagnostic_record: plain(error.diagnosticRecord),
    message: error.message,
    causes
  }
}

function parameterValues (falkordb) {
  const values = {
    integer: neo4j.int(42),
    'negative integer': neo4j.int(-7),
    'large integer': neo4j.int('1099511627777'), // 2**40 + 1
    string: 'boltproxy',
    true: true,
    false: false,
    null: null,
    float: 1.5,
    list: [neo4j.int(1), neo4j.int(2), neo4j.int(3)],
    map: { name: 'blue', weight: neo4j.int(3) },
    nested: { list: [neo4j.int(1), 'two', [neo4j.int(3)]], map: { inner: true } }
  }
  if (!falkordb) { // FalkorDB rejects these parameter types
    Object.assign(values, {
      'unicode string': 'grüße, 世界 "quoted"',
      'precise float': 0.1 + 0.2,
      bytes: new Int8Array([0, 1, -2, -1]),
      'empty list': [],
      'empty map': {}
    })
  }
  return values
}

async function parameters (ctx) {
  const values = parameterValues(ctx.falkordb)
  const wrong = []
  await withSession(ctx, {}, async session => {
    for (const [name, value] of Object.entries(values)) {
      const got = await ctx.singleValue(session, 'RETURN $p AS p', 'p', { p: value })
      if (!same(got, value)) wrong.push(`${name}: got ${describe(got)}`)
    }
  })
  check(wrong.length === 0, 'parameters changed on the way: ' + wrong.join('; '))
  return [`${Object.keys(values).length} values round-tripped: ` + Object.keys(values).join(', '),
    { names: Object.keys(values) }]
}

// --------------------------------------------------------------------------- real Neo4j only

/** A value as JSON the two runs can be compared on: Integers as strings, maps sorted. */
function plain (value) {
  if (neo4j.isInt(value)) return `Integer(${value.toString()})`
  if (value === null || value === undefined || typeof value !== 'object') return value ?? null
  if (Array.isArray(value)) return value.map(plain)
  const out = {}
  for (const key of Object.keys(value).sort()) out[key] = plain(value[key])
  return out
}

/** A value as the user sees it: its type and its text (a point's srid is in it). */
function shown (value) {
  if (neo4j.isInt(value)) return `Integer ${value.toString()}`
  if (Array.isArray(value)) return '[' + value.map(shown).join(', ') + ']'
  if (value !== null && typeof value === 'object' && value.constructor === Object) {
    return '{' + Object.keys(value).sort().map(key => `${key}: ${shown(value[key])}`).join(', ') + '}'
  }
  if (value !== null && typeof value === 'object') return `${value.constructor.name} ${String(value)}`
  return `${typeof value} ${String(value)}`
}

async function realCommit (ctx) {
  const after = await withSession(ctx, {}, async session => {
    const before = session.lastBookmarks()
    const tx = await session.beginTransaction()
    await ctx.createProbe(tx, 'commit')
    const inside = await ctx.countProbes(tx, 'commit')
    await tx.commit()
    check(inside === 1, `the transaction saw its own write ${inside} times, expected once`)
    const bookmarks = session.lastBookmarks()
    check(bookmarks.length > 0 && !same(bookmarks, before), 'COMMIT did not give the session a new bookmark')
    return bookmarks
  })
  const found = await withSession(ctx, { bookmarks: after }, session => ctx.countProbes(session, 'commit'))
  check(found === 1, `a committed write was read back ${found} times, expected once`)
  return ['committed; new bookmark; read back in a session with that bookmark', { inside: 1, read_back: found }]
}

async function realRollback (ctx) {
  return withSession(ctx, {}, async session => {
    const tx = await session.beginTransaction()
    await ctx.createProbe(tx, 'rollback')
    const inside = await ctx.countProbes(tx, 'rollback')
    await tx.rollback()
    check(!tx.isOpen(), 'the transaction is still open after rollback')
    const value = await ctx.singleValue(session, 'RETURN 2 AS x', 'x')
    check(same(value, neo4j.int(2)), `RETURN 2 AS x after a rollback gave ${describe(value)}`)
    const kept = await ctx.countProbes(session, 'rollback')
    check(inside === 1, `the transaction saw its own write ${inside} times, expected once`)
    check(kept === 0, `${kept} rolled-back writes are still there`)
    return ['rolled back: the write is gone; session usable', { inside, kept }]
  })
}

async function realCausalChain (ctx) {
  const steps = [
    ['write', async tx => { await ctx.createProbe(tx, 'chain1') }],
    ['write', async tx => {
      const seen = await ctx.countProbes(tx, 'chain1')
      await ctx.createProbe(tx, 'chain2')
      return seen
    }],
    ['read', async tx => [await ctx.countProbes(tx, 'chain1'), await ctx.countProbes(tx, 'chain2')]]
  ]
  let bookmarks = []
  const seen = []
  for (const [index, [mode, work]] of steps.entries()) {
    bookmarks = await withSession(ctx, index ? { bookmarks } : {}, async session => {
      seen.push(await (mode === 'read' ? session.executeRead(work) : session.executeWrite(work)))
      return session.lastBookmarks()
    })
    check(bookmarks.length > 0, `session ${index + 1} of the chain left no bookmark`)
  }
  check(seen[1] === 1, `the second session saw the first one's write ${seen[1]} times`)
  check(same(seen[2], [1, 1]), `the third session saw ${JSON.stringify(seen[2])}, expected [1, 1]`)
  return ['executeWrite, executeWrite, executeRead: each session saw what the one before wrote',
    { second_saw: seen[1], third_saw: seen[2] }]
}

// The same queries as py_scenarios.py.
const VALUES_QUERY = `RETURN
  date('2024-02-29') AS date,
  date('0001-01-01') AS first_date,
  time('12:34:56.123456789+02:00') AS time_with_offset,
  localtime('23:59:59.999999999') AS local_time,
  datetime('2024-03-31T02:30:00[Europe/Berlin]') AS zoned_in_dst_gap,
  datetime('2024-10-27T02:30:00+01:00[Europe/Berlin]') AS zoned_in_fold,
  datetime('2024-06-01T12:00:00.000000001+05:45') AS datetime_with_offset,
  datetime('1969-12-31T23:59:59.5Z') AS before_epoch,
  datetime({year: 1900, month: 1, day: 1, timezone: 'America/New_York'}) AS old_zoned,
  localdatetime('2024-01-01T00:00:00.000000001') AS local_datetime,
  duration('P1Y2M3DT4H5M6.000000007S') AS duration,
  duration({days: -1, seconds: 1}) AS negative_duration,
  point({x: 1.5, y: -2.5}) AS cartesian_2d,
  point({x: 1, y: 2, z: 3}) AS cartesian_3d,
  point({longitude: 12.5, latitude: 55.7}) AS wgs84_2d,
  point({longitude: 12.5, latitude: 55.7, height: 30.0}) AS wgs84_3d,
  [date('2024-01-01'), duration('PT1S')] AS temporal_list,
  {at: datetime('2024-01-01T00:00:00Z'), where: point({x: 0, y: 0})} AS temporal_map`
const VECTORS_QUERY = `CYPHER 25 RETURN
  vector([1, -2, 3], 3, INTEGER8) AS int8,
  vector([1, -2, 3], 3, INTEGER16) AS int16,
  vector([1, -2, 3], 3, INTEGER32) AS int32,
  vector([1, -2, 3], 3, INTEGER) AS int64,
  vector([1.5, -2.5, 0.25], 3, FLOAT32) AS float32,
  vector([1.5, -2.5, 0.1], 3, FLOAT64) AS float64`
const GRAPH_QUERY = `CREATE p = (a:ClientProbe {run: $run, step: 'graph', at: date('2024-01-01')})
  -[r:CLIENT_PROBE {w: 1.5}]->(b:ClientProbe:Second {run: $run, step: 'graph'})
RETURN a, r, b, p`

async function values (ctx) {
  return withSession(ctx, {}, async session => {
    const received = {}
    const first = (await session.run(VALUES_QUERY)).records[0]
    for (const key of first.keys) received[key] = first.get(key)
    const info = await ctx.driver.getServerInfo()
    const vectors = info.protocolVersion.major >= 6
    if (vectors) {
      const record = (await session.run(VECTORS_QUERY)).records[0]
      for (const key of record.keys) received[`vector ${key}`] = record.get(key)
    }
    const facts = {}
    const wrong = []
    for (const [name, value] of Object.entries(received)) {
      facts[name] = shown(value)
      const back = await ctx.singleValue(session, 'RETURN $p AS p', 'p', { p: value })
      if (shown(back) !== shown(value)) wrong.push(`${name}: sent ${shown(value)}, got ${shown(back)}`)
    }
    const tx = await session.beginTransaction()
    let record
    try {
      record = (await tx.run(GRAPH_QUERY, { run: ctx.runId })).records[0]
    } finally {
      await tx.rollback()
    }
    const [a, r, b, path] = ['a', 'r', 'b', 'p'].map(key => record.get(key))
    check(r.startNodeElementId === a.elementId && r.endNodeElementId === b.elementId,
      'the relationship does not point from a to b')
    check(path.start.elementId === a.elementId && path.end.elementId === b.elementId,
      "the path's nodes are not a and b")
    facts.graph = {
      a: [[...a.labels].sort(), shown(a.properties.at), a.properties.step],
      r: [r.type, r.properties.w, path.length],
      b: [...b.labels].sort()
    }
    check(wrong.length === 0, 'values changed on the way back: ' + wrong.join('; '))
    const note = vectors ? '' : ' (no vectors below Bolt 6)'
    return [`${Object.keys(received).length} values read and sent back unchanged${note}; ` +
      'node, relationship, path', facts]
  })
}

const NOTIFYING_QUERY = 'MATCH (n:NoSuchLabelForClientScenarios) RETURN id(n) AS i'

function statusFacts (summary) {
  return summary.gqlStatusObjects.map(status => ({
    gql_status: status.gqlStatus,
    classification: status.rawClassification ?? null,
    severity: status.rawSeverity ?? null,
    description: status.statusDescription,
    position: status.position ? [status.position.line, status.position.column] : null,
    diagnostic_record: plain(status.diagnosticRecord)
  }))
}

async function notifications (ctx) {
  const configs = {
    default: {},
    'severity OFF': { notificationFilter: { minimumSeverityLevel: 'OFF' } },
    'no deprecations': { notificationFilter: { disabledClassifications: ['DEPRECATION'] } }
  }
  const facts = {}
  for (const [name, config] of Object.entries(configs)) {
    facts[name] = await withSession(ctx, config, async session =>
      statusFacts((await session.run(NOTIFYING_QUERY)).summary))
  }
  const codes = Object.fromEntries(Object.entries(facts).map(([name, found]) =>
    [name, found.map(f => f.gql_status)]))
  const deprecations = facts.default.filter(f => f.classification === 'DEPRECATION')
  check(deprecations.length === 1 && ['01N01', '01N02'].includes(deprecations[0].gql_status),
    `no id() deprecation among the statuses: ${codes.default}`)
  check(codes['severity OFF'].every(code => !code.startsWith('01')),
    `warnings came back although the session turned them off: ${codes['severity OFF']}`)
  check(codes['no deprecations'].includes('01N50') &&
    !codes['no deprecations'].includes(deprecations[0].gql_status),
  `the classification filter was not applied: ${codes['no deprecations']}`)
  return [Object.entries(codes).map(([name, c]) => `${name}: ${c.join(' ')}`).join('; '), facts]
}

async function currentUser (ctx, config = {}) {
  return withSession(ctx, config, session => ctx.singleValue(session, 'SHOW CURRENT USER YIELD user', 'user'))
}

async function reauthentication (ctx) {
  const mainUser = ctx.args.user
  const other = ctx.args['other-user']
  check(other !== undefined, '--other-user is needed against real Neo4j')
  const otherAuth = neo4j.auth.basic(other, ctx.args['other-password'])
  const wrongAuth = neo4j.auth.basic(other, ctx.args['other-password'] + '-wrong')
  // Straight to Neo4j, driver 6.3 answers true for a wrong password once a pooled
  // connection is logged on as that user, and a session with the wrong password then
  // fails with code ProtocolError (message: unauthorized). Only the right answers are
  // checked here; the wrong ones are facts, compared between direct and proxied runs.
  const verified = [
    await ctx.driver.verifyAuthentication({ auth: neo4j.auth.basic(mainUser, ctx.args.password) }),
    await ctx.driver.verifyAuthentication({ auth: otherAuth }),
    await ctx.driver.verifyAuthentication({ auth: wrongAuth }).catch(error => `threw ${error.code}`)
  ]
  check(verified[0] === true && verified[1] === true, `verifyAuthentication gave ${verified}`)
  const users = [await currentUser(ctx), await currentUser(ctx, { auth: otherAuth }),
    await currentUser(ctx), await currentUser(ctx, { auth: otherAuth })]
  const expected = [mainUser, other, mainUser, other]
  check(same(users, expected), `SHOW CURRENT USER gave ${users}, expected ${expected}`)
  let failure
  try {
    await currentUser(ctx, { auth: wrongAuth })
  } catch (error) {
    failure = { class: error.constructor.name, code: error.code, gql_status: error.gqlStatus, message: error.message }
  }
  check(failure !== undefined, 'a session with a wrong password ran a query')
  // Neo4j answers a failed login with Unauthorized and closes the connection; which
  // of the two the driver reads first varies from run to run, directly as through
  // the proxy, so either is the refusal.
  const refused = /unauthorized|connection was closed/i.test(failure.message)
  check(refused, `a wrong session password gave ${JSON.stringify(failure)}`)
  const after = await currentUser(ctx)
  check(after === mainUser, `after the failed session the driver ran as ${after}`)
  return [`verifyAuthentication ${verified}; session users ${users}; wrong password: ${failure.code}`,
    { verified, users: users.map(user => user === mainUser), refused }]
}

async function cleanup (ctx) {
  return withSession(ctx, {}, async session => {
    const { summary } = await session.run('MATCH (n:ClientProbe {run: $run}) DETACH DELETE n', { run: ctx.runId })
    const deleted = summary.counters.updates().nodesDeleted
    check(deleted === 4, `deleted ${deleted} nodes, expected 4 (auto, commit, chain1, chain2)`)
    return [`deleted the ${deleted} nodes this run wrote`, { deleted }]
  })
}

const SCENARIOS = [
  ['connectivity', connectivity],
  ['auto_commit_execute_query', autoCommitExecuteQuery],
  ['auto_commit_session_run', autoCommitSessionRun],
  ['explicit_transaction_commit', explicitTransactionCommit],
  ['explicit_transaction_rollback', explicitTransactionRollback],
  ['managed_transactions_with_bookmarks', managedTransactionsWithBookmarks],
  ['large_result', largeResult],
  ['server_error', serverError],
  ['parameters', parameters]
]
const REAL_SCENARIOS = [
  ...SCENARIOS,
  ['values', values],
  ['notifications', notifications],
  ['reauthentication', reauthentication],
  ['cleanup', cleanup]
]

// --------------------------------------------------------------------------- running

function report (scenario, ok, detail, facts = null) {
  process.stdout.write(JSON.stringify({ scenario, ok, detail, facts }) + '\n')
}

function outcome (error) {
  if (error instanceof ScenarioFailed) return error.message
  const code = error.code ? ` (${error.code})` : ''
  return `${error.name}${code}: ${error.message}`
}

function parseArguments () {
  const { values } = parseArgs({
    options: {
      uri: { type: 'string' },
      mode: { type: 'string', default: 'async' }, // accepted for symmetry; JS is always async
      auth: { type: 'string', default: 'basic' },
      user: { type: 'string', default: 'neo4j' },
      password: { type: 'string', default: 'password' },
      database: { type: 'string' },
      backend: { type: 'string', default: 'fake' },
      rows: { type: 'string', default: '100000' },
      timeout: { type: 'string', default: '10' },
      'connect-attempts': { type: 'string', default: '1' },
      'other-user': { type: 'string' },
      'other-password': { type: 'string', default: '' }
    }
  })
  if (!values.uri) throw new Error('--uri is required')
  if (!['fake', 'falkordb', 'neo4j'].includes(values.backend)) throw new Error('--backend is fake, falkordb or neo4j')
  return {
    ...values,
    rows: Number.parseInt(values.rows, 10),
    timeoutMs: Number.parseFloat(values.timeout) * 1000,
    connectAttempts: Number.parseInt(values['connect-attempts'], 10)
  }
}

let neo4jVersion = 'unknown'

async function main () {
  let args
  try {
    args = parseArguments()
  } catch (error) {
    process.stderr.write(`scenarios.mjs: ${error.message}\n`)
    return 2
  }
  try {
    const { createRequire } = await import('node:module')
    neo4jVersion = createRequire(import.meta.url)('neo4j-driver/package.json').version
  } catch { /* the version is only shown, never needed */ }
  const auth = args.auth === 'basic' ? neo4j.auth.basic(args.user, args.password) : neo4j.auth.none()
  const driver = neo4j.driver(args.uri, auth, {
    connectionTimeout: args.timeoutMs,
    connectionAcquisitionTimeout: args.timeoutMs * 2,
    // Short: a retried transaction would only hide what went wrong, and slow a failing run.
    maxTransactionRetryTime: Math.min(args.timeoutMs, 3000)
  })
  const ctx = new Context(args, driver)
  let passed = true
  try {
    for (const [name, scenario] of ctx.real ? REAL_SCENARIOS : SCENARIOS) {
      try {
        const done = await scenario(ctx)
        const [detail, facts] = Array.isArray(done) ? done : [done, null]
        report(name, true, detail, facts)
      } catch (error) {
        passed = false
        report(name, false, outcome(error))
      }
    }
  } finally {
    await driver.close()
  }
  return passed ? 0 : 1
}

// Exit explicitly: a connection whose handshake FalkorDB never answered keeps a
// socket open, and with it the event loop, after driver.close().
process.exit(await main())
