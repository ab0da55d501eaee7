// `eoms bench --scenario web`: one bounded load phase against the web app, driven by autocannon.
//
// Reads a JSON plan from the file named by its one argument and prints one JSON object with the phase's figures.
// Plan: {url, connections, duration | amount, users: [{cookie, csrf, paths: [...]}], method, body, expect,
// expectLocation}.
// Each connection is one simulated user (connection n is users[n % users.length]) with its own session cookie;
// a GET phase walks the user's paths in turn; a POST phase (amount = connections × paths per user) sends each of
// the user's paths once, each a task to complete, so no task is completed twice.
'use strict'

const fs = require('fs')
const autocannon = require('autocannon')

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const statuses = {}
let nextUser = 0
let answered = 0
let lastAnswer = null

// a redirect counts as what the plan expects only when it goes where a success goes (`expectLocation`): the
// completion's refusals redirect too (back to the task, or to the login page)
function onResponse (status, body, context, headers) {
  let key = String(status)
  if (plan.expectLocation && status === plan.expect) {
    const name = Object.keys(headers).find((h) => h.toLowerCase() === 'location')
    const location = name ? String(headers[name]) : ''
    if (!location.endsWith(plan.expectLocation)) key = `${status} to ${location || 'nowhere'}`
  }
  statuses[key] = (statuses[key] || 0) + 1
  answered++
  lastAnswer = process.hrtime.bigint()
}

// each connection gets its user's requests; the closure walks the user's paths (autocannon clears its own
// per-connection context after every round of requests, so the place is kept here)
function setupClient (client) {
  const user = plan.users[nextUser++ % plan.users.length]
  let at = 0
  const headers = { cookie: user.cookie }
  if (plan.method === 'POST') headers['content-type'] = 'application/x-www-form-urlencoded'
  const body = plan.method === 'POST'
    ? `csrf_token=${encodeURIComponent(user.csrf)}${plan.body ? '&' + plan.body : ''}`
    : undefined
  const setupRequest = (req) => ({ ...req, method: plan.method, path: user.paths[at++ % user.paths.length], headers, body })
  client.setRequests([{ setupRequest, onResponse }])
}

const options = { url: plan.url, connections: plan.connections, timeout: 30, setupClient }
// a POST phase sends each user's paths once (each a task to complete): amount = users × paths, spread evenly
if (plan.amount) options.amount = plan.amount
else options.duration = plan.duration

const started = process.hrtime.bigint()
autocannon(options, (err, result) => {
  if (err) {
    console.error(err)
    process.exit(2)
  }
  // from the start to the last answer: autocannon's own duration runs on to its next one-second tick
  const seconds = lastAnswer === null ? result.duration : Number(lastAnswer - started) / 1e9
  process.stdout.write(JSON.stringify({
    requests: result.requests.total,
    answered,
    seconds,
    rate: answered / seconds,
    expected_status: plan.expect,
    expected: statuses[String(plan.expect)] || 0,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max }
  }) + '\n')
})
