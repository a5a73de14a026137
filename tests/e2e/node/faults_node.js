// Segment's @segment/analytics-node through the emulator's faults: node faults_node.js HOST KEY N
// Sends N tracks in one batch, retrying as the library does; prints each error it reports as a
// JSON line, then exits once the batch is delivered or given up.
'use strict'
const { Analytics } = require('@segment/analytics-node')

const [host, writeKey, count] = process.argv.slice(2)
const n = Number(count)
// One batch of every message (flushAt), sent once they are all queued; its own retry budget.
const analytics = new Analytics({ writeKey, host, flushAt: n, flushInterval: 60000, maxRetries: 10 })
analytics.on('error', (err) => {
  console.log(JSON.stringify({ code: err.code, reason: String(err.reason) }))
})
for (let i = 0; i < n; i++) {
  analytics.track({ userId: 'node-1', event: `Step ${i}`, properties: { i }, messageId: `node-${i}` })
}
analytics.closeAndFlush({ timeout: 60000 }).then(() => process.exit(0))
