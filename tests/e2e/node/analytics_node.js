// Segment's @segment/analytics-node against the emulator: node analytics_node.js HOST WRITE_KEY
// Prints the errors the library reports, one JSON line each; exits once every batch is sent.
'use strict'
const { Analytics } = require('@segment/analytics-node')

const [host, writeKey] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host, maxRetries: 0, flushInterval: 100000 })
analytics.on('error', (err) => {
  console.log(JSON.stringify({ code: err.code, reason: String(err.reason) }))
})

analytics.identify({
  userId: 'node-1',
  traits: { name: 'Ada Lovelace', createdAt: '2024-01-01' },
  messageId: 'node-identify-1',
})
analytics.track({ userId: 'node-1', event: 'Paid', properties: { amount: 5 }, messageId: 'node-paid-1' })
// A retry of the same message, as after a lost answer.
analytics.track({ userId: 'node-1', event: 'Paid', properties: { amount: 5 }, messageId: 'node-paid-1' })
// Segment's messageId is at most 100 characters: dropped alone.
analytics.track({ userId: 'node-1', event: 'Too long an id', messageId: 'x'.repeat(101) })
analytics.track({ userId: 'node-1', event: 'Hidden', integrations: { All: false } })
analytics.closeAndFlush({ timeout: 20000 }).then(() => process.exit(0))
