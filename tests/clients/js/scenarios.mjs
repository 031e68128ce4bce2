// Client scenarios run by the official JavaScript Neo4j driver, as a user's app would.
//
// The same scenarios, names and output as ../py_scenarios.py: one JSON object per
// scenario on stdout ({"scenario": ..., "ok": ..., "detail": ...}), exit status 1 if
// any failed. Read that file's docstring for what each backend can answer.
//
// JavaScript specifics: numbers are sent as floats unless wrapped in neo4j.int (the
// fake only ranges over integers, and FalkorDB wants integers), and integers come
// back as neo4j Integer objects (lossless), so comparisons go through `same`.
// FalkorDB only lets this driver in with auth.none().

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
  return `neo4j-driver ${neo4jVersion}, server ${info.agent}, Bolt ${info.protocolVersion}${retried}`
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
  return `${count} rows`
}

async function serverError (ctx) {
  // Neo4j (and the fake) classify a syntax error. FalkorDB's FAILURE lacks the
  // `neo4j_code` this driver reads on Bolt 5.7, so the code there is 'N/A'.
  const expected = ctx.falkordb ? '' : 'Neo.ClientError.Statement.SyntaxError'
  return withSession(ctx, {}, async session => {
    let caught
    try {
      await session.run('THIS IS NOT CYPHER')
    } catch (error) {
      check(error instanceof neo4j.Neo4jError, `got ${error.name}: ${error.message}`)
      check(String(error.code).startsWith(expected), `got ${error.code}, expected ${expected}`)
      caught = `${error.name} ${error.code}`
    }
    check(caught !== undefined, 'a syntax error was accepted')
    const value = await ctx.singleValue(session, 'RETURN 1 AS x', 'x')
    check(same(value, neo4j.int(1)), `RETURN 1 AS x after the error gave ${describe(value)}`)
    return `${caught}; session usable afterwards`
  })
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
  return `${Object.keys(values).length} values round-tripped: ` + Object.keys(values).join(', ')
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

// --------------------------------------------------------------------------- running

function report (scenario, ok, detail) {
  process.stdout.write(JSON.stringify({ scenario, ok, detail }) + '\n')
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
      'connect-attempts': { type: 'string', default: '1' }
    }
  })
  if (!values.uri) throw new Error('--uri is required')
  if (!['fake', 'falkordb'].includes(values.backend)) throw new Error('--backend is fake or falkordb')
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
    for (const [name, scenario] of SCENARIOS) {
      try {
        report(name, true, await scenario(ctx))
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
