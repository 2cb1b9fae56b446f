// Client credentials grants per second from openid-client 6, against a token
// endpoint given on the command line (normally ../static-token-server).
//
//   node bench.mjs TOKEN_URL [--seq N] [--conc N] [--rounds R] [--pass P] [--modes sequential|concurrency32|both]
//
// The same measurements as `rust-bench bench`: rounds of N grants one after
// the other ("sequential") and of N grants over 32 concurrent async loops
// ("concurrency 32"), Bearer and DPoP (ES256) taking turns slice by slice.
// Same request as the Rust clients: client_secret_basic, scope=read.
// Prints one JSON document on stdout.

import * as client from 'openid-client'
import { readFileSync } from 'node:fs'

const CLIENT_ID = 'bench-client'
const CLIENT_SECRET = 'bench-secret'
const ACCESS_TOKEN = '2YotnFZFEjr1zCsicMWpAA'
const CONCURRENCY = 32

function usage(msg) {
  console.error(`bench.mjs: ${msg}`)
  console.error('usage: node bench.mjs TOKEN_URL [--seq N] [--conc N] [--rounds R] [--pass P] [--modes sequential|concurrency32|both]')
  process.exit(2)
}

const argv = process.argv.slice(2)
const tokenUrl = argv.shift() ?? usage('missing token URL')
const opts = { seq: 3000, conc: 4000, rounds: 3, pass: 1 }
let onlyModes = ['sequential', 'concurrency 32']
while (argv.length) {
  const flag = argv.shift()
  const raw = String(argv.shift())
  if (flag === '--modes') {
    onlyModes = { sequential: ['sequential'], concurrency32: ['concurrency 32'], c32: ['concurrency 32'], both: onlyModes }[raw]
    if (!onlyModes) usage('--modes is sequential, concurrency32 or both')
    continue
  }
  const value = Number(raw.replaceAll('_', ''))
  const key = flag.replace(/^--/, '')
  if (!(key in opts) || !Number.isInteger(value) || value < 0) usage(`bad ${flag}`)
  opts[key] = value
}
opts.rounds = Math.max(1, opts.rounds)

const url = new URL(tokenUrl)
const config = new client.Configuration(
  { issuer: url.origin, token_endpoint: url.href },
  CLIENT_ID,
  undefined,
  client.ClientSecretBasic(CLIENT_SECRET),
)
client.allowInsecureRequests(config)
const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))

const kinds = [
  { tokenType: 'Bearer', options: undefined },
  { tokenType: 'DPoP', options: { DPoP: dpop } },
]

async function grant(kind) {
  const token = await client.clientCredentialsGrant(config, { scope: 'read' }, kind.options)
  if (token.access_token !== ACCESS_TOKEN || token.token_type.toLowerCase() !== kind.tokenType.toLowerCase()) {
    throw new Error(`unexpected token response: ${JSON.stringify(token)}`)
  }
}

// n grants over `concurrency` loops, each taking the next grant until n have
// been started (as rust-bench); seconds.
async function run(kind, n, concurrency) {
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await grant(kind)
    }),
  )
  return Number(process.hrtime.bigint() - started) / 1e9
}

function median(v) {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const modes = [
  { mode: 'sequential', concurrency: 1, n: opts.seq },
  { mode: 'concurrency 32', concurrency: CONCURRENCY, n: opts.conc },
].filter(({ mode }) => onlyModes.includes(mode))

// Warm-up: JIT, connections.
for (const kind of kinds) {
  for (const { concurrency } of modes) await run(kind, 1000 * Math.min(concurrency, 2), concurrency)
}

// Rounds cut into slices; the two kinds take turns slice by slice (as in
// rust-bench), so that drift hits both alike.
const SLICES = 10
const perSlice = (n) => Math.max(1, Math.floor(n / SLICES))
const times = modes.map(() => kinds.map(() => []))
for (let round = 0; round < opts.rounds; round++) {
  for (let m = 0; m < modes.length; m++) {
    const roundTimes = kinds.map(() => 0)
    for (let slice = 0; slice < SLICES; slice++) {
      for (let i = 0; i < kinds.length; i++) {
        const k = (i + slice + round + opts.pass) % kinds.length
        roundTimes[k] += await run(kinds[k], perSlice(modes[m].n), modes[m].concurrency)
      }
    }
    roundTimes.forEach((t, k) => times[m][k].push(t))
  }
}

const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version

const results = []
modes.forEach(({ mode, concurrency, n: requested }, m) => {
  const n = perSlice(requested) * SLICES
  kinds.forEach((kind, k) => {
    const rates = times[m][k].map((t) => n / t)
    results.push({
      client: 'openid-client',
      token_type: kind.tokenType,
      mode,
      concurrency,
      grants_per_round: n,
      seconds: times[m][k],
      grants_per_s: rates,
      median_grants_per_s: median(rates),
    })
  })
})

console.log(
  JSON.stringify({
    runner: 'node',
    pass: opts.pass,
    node: process.version,
    openid_client: version('openid-client'),
    oauth4webapi: version('oauth4webapi'),
    rss_kib_at_end: Math.round(process.memoryUsage().rss / 1024),
    results,
  }),
)
