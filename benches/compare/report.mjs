// Reads the JSON documents run.sh wrote (meta.json, load.json,
// rust-pass*.json, node-pass*.json, rss-*.json) and prints the comparison as
// Markdown tables.
//
//   node report.mjs RESULTS_DIR
//
// A cell is the median of every round of every pass. Ratios between two Rust
// clients are medians of per-round ratios (the two ran back to back in the
// same round); ratios against openid-client, which ran in its own process
// between the Rust passes, are ratios of the medians.

import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.argv[2] ?? (console.error('usage: node report.mjs RESULTS_DIR'), process.exit(2))
const load = (re) =>
  readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))

const runs = [...load(/^rust-pass\d+.*\.json$/), ...load(/^node-pass\d+.*\.json$/)]
const [meta] = load(/^meta\.json$/)
const [loadInfo] = load(/^load\.json$/)
const rss = load(/^rss-.*\.json$/)

const median = (v) => {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (x) => Math.round(x).toLocaleString('en-US')
const fix = (x, d = 2) => x.toFixed(d)

// rates[client|type|mode] = [{pass, round, rate}]
const rates = new Map()
for (const run of runs) {
  for (const r of run.results) {
    const key = `${r.client}|${r.token_type}|${r.mode}`
    if (!rates.has(key)) rates.set(key, [])
    r.grants_per_s.forEach((rate, round) => rates.get(key).push({ pass: run.pass, round, rate }))
  }
}
const get = (client, type, mode) => rates.get(`${client}|${type}|${mode}`) ?? []
const med = (client, type, mode) => median(get(client, type, mode).map((x) => x.rate))
const spread = (client, type, mode) => {
  const v = get(client, type, mode).map((x) => x.rate)
  return v.length ? `${fmt(Math.min(...v))}–${fmt(Math.max(...v))}` : ''
}
// Median over rounds of a's rate / b's rate in the same pass and round.
const paired = (a, b, mode) => {
  const bs = get(...b, mode)
  const r = get(...a, mode)
    .map((x) => {
      const y = bs.find((z) => z.pass === x.pass && z.round === x.round)
      return y ? x.rate / y.rate : undefined
    })
    .filter((x) => x !== undefined)
  return { median: median(r), min: Math.min(...r), max: Math.max(...r), n: r.length }
}

const rows = [
  ['oidckit', 'Bearer'],
  ['oidckit', 'DPoP'],
  ['reqwest', 'Bearer', 'bare reqwest 0.13 + serde_json'],
  ['reqwest', 'DPoP', 'bare reqwest 0.13 + serde_json + hand-made proof'],
  ['oauth2', 'Bearer', 'oauth2 5 (reqwest 0.12)'],
  ['openid-client', 'Bearer'],
  ['openid-client', 'DPoP'],
]
const SEQ = 'sequential'
const C32 = 'concurrency 32'
const samples = get('oidckit', 'Bearer', SEQ).length

const node = runs.find((r) => r.runner === 'node')
if (meta) {
  const threads = `${meta.server_threads ?? 2} thread${meta.server_threads === 1 ? '' : 's'}`
  const cpus = meta.split_cores
    ? `split cores: static server on CPU ${meta.server_cpus} (${threads}), every client on CPU ${meta.client_cpus}`
    : `shared cores; sequential rounds ${meta.pin_sequential ? 'with client and server pinned to one vCPU' : 'unpinned'}; static server on ${threads}`
  console.log(
    `Run ${meta.date}: oidckit ${meta.oidckit ?? '(commit not recorded)'}; ${meta.cpus} × ${meta.cpu}, ${meta.mem_gib} GiB, Linux ${meta.kernel}, ${meta.rustc}, Node ${meta.node}; ` +
      `${meta.passes} passes × ${meta.rounds} rounds; ${cpus}.`,
  )
  if (loadInfo) {
    const others = loadInfo.others_cpu_seconds ?? loadInfo.machine_cpu_seconds - loadInfo.bench_cpu_seconds
    console.log()
    console.log(
      `Load: load average ${meta.loadavg_before} before, ${loadInfo.loadavg_after} after; in the ${loadInfo.seconds} s measured, ` +
        `the benches and server used ${fix(loadInfo.bench_cpu_seconds, 1)} CPU-s, other processes ${fix(Math.max(0, others), 1)} CPU-s ` +
        `(${fix(Math.max(0, others) / loadInfo.seconds * 100, 0)} % of one CPU), host steal ${fix(loadInfo.steal_seconds, 1)} s.`,
    )
  }
  console.log()
}
console.log(
  `Grants/s, median of ${samples} rounds (range in brackets)` +
    (node ? `; openid-client ${node.openid_client} (oauth4webapi ${node.oauth4webapi}) on Node ${node.node}` : ''),
)
console.log()
console.log('| client | token | sequential | concurrency 32 |')
console.log('|---|---|---:|---:|')
for (const [client, type, label] of rows) {
  if (!get(client, type, SEQ).length) continue
  console.log(
    `| ${label ?? client} | ${type} | ${fmt(med(client, type, SEQ))} (${spread(client, type, SEQ)}) | ${fmt(med(client, type, C32))} (${spread(client, type, C32)}) |`,
  )
}

console.log()
console.log('| comparison | measured | target | met |')
console.log('|---|---:|---:|---|')
const line = (what, value, target, ok, extra = '') =>
  console.log(`| ${what} | ${value}${extra} | ${target} | ${ok === undefined ? '—' : ok ? 'yes' : '**no**'} |`)

// Wall time per grant of oidckit over bare reqwest = reqwest rate / oidckit rate.
for (const mode of [SEQ, C32]) {
  const p = paired(['reqwest', 'Bearer'], ['oidckit', 'Bearer'], mode)
  line(
    `oidckit / bare reqwest wall time, ${mode}`,
    `${fix(p.median, 3)}×`,
    '≤ 1.10×',
    p.median <= 1.1,
    ` (rounds ${fix(p.min, 3)}–${fix(p.max, 3)})`,
  )
}
// The same for DPoP: the bare client signs a hand-made proof with the same
// OpenSSL call, so this is oidckit's own cost on top of the signature.
for (const [mode, target] of [
  [SEQ, 1.1],
  [C32, 1.2],
]) {
  const p = paired(['reqwest', 'DPoP'], ['oidckit', 'DPoP'], mode)
  if (!p.n) continue
  line(
    `oidckit DPoP / bare reqwest DPoP wall time, ${mode}`,
    `${fix(p.median, 3)}×`,
    `≤ ${fix(target, 2)}×`,
    p.median <= target,
    ` (rounds ${fix(p.min, 3)}–${fix(p.max, 3)})`,
  )
}
for (const [type, target] of [
  ['Bearer', 15],
  ['DPoP', 10],
]) {
  for (const mode of [C32, SEQ]) {
    const r = med('oidckit', type, mode) / med('openid-client', type, mode)
    line(
      `oidckit / openid-client grants/s, ${type}, ${mode}`,
      `${fix(r, 1)}×`,
      mode === C32 ? `≥ ${target}×` : '(none)',
      mode === C32 ? r >= target : undefined,
    )
  }
}
// What the bare clients reach: the ceiling for any Rust client on this box.
for (const type of ['Bearer', 'DPoP']) {
  if (!get('reqwest', type, C32).length) continue
  const r = med('reqwest', type, C32) / med('openid-client', type, C32)
  line(`bare reqwest / openid-client grants/s, ${type}, ${C32}`, `${fix(r, 1)}×`, '(for scale)', undefined)
}
for (const mode of [SEQ, C32]) {
  const p = paired(['oidckit', 'Bearer'], ['oauth2', 'Bearer'], mode)
  line(
    `oidckit / oauth2 grants/s, ${mode}`,
    `${fix(p.median, 2)}×`,
    '≥ 1.00×',
    p.median >= 1,
    ` (rounds ${fix(p.min, 2)}–${fix(p.max, 2)})`,
  )
}

if (rss.length) {
  console.log()
  const points = [...new Set(rss.flatMap((r) => r.checkpoints.map((c) => c.grants)))].sort((a, b) => a - b)
  const mib = (kib) => (kib / 1024).toFixed(1)
  console.log(`Memory of one process doing ${fmt(Math.max(...points))} grants at concurrency 32 (MiB; VmRSS after N grants, VmHWM = peak)`)
  console.log()
  console.log(`| client | ${points.map((p) => `VmRSS @ ${fmt(p)}`).join(' | ')} | VmHWM | grants/s |`)
  console.log(`|---|${points.map(() => '---:').join('|')}|---:|---:|`)
  for (const r of rss) {
    const at = (p) => r.checkpoints.find((c) => c.grants === p)
    console.log(
      `| ${r.client === 'reqwest' ? 'bare reqwest' : r.client} ${r.token_type} | ${points
        .map((p) => (at(p) ? mib(at(p).vm_rss_kib) : ''))
        .join(' | ')} | ${mib(r.vm_hwm_kib)} | ${fmt(r.grants / r.seconds)} |`,
    )
  }
  if (node) {
    console.log()
    console.log(`(For scale: the openid-client bench process's RSS at its end: ${mib(node.rss_kib_at_end)} MiB.)`)
  }
}
