// The request journal: every call on the tracker, Segment and Engage surfaces, long-polled.

import { $, clear, el, pretty, show, sleep, timeNode } from './dashboard-dom.js';
import { JOURNAL_KEEP, actions, state } from './dashboard-state.js';
import { call, recover, setLive } from './dashboard-api.js';
import { journalViolations } from './dashboard-plan.js';

// -- the request journal -------------------------------------------------------

function outcome(entry) {
  if (entry.fault_id) return 'faulted';
  if (entry.status >= 400) return 'rejected';
  if (entry.drops && entry.drops.length) return 'dropped';
  return entry.skipped && entry.skipped.length ? 'skipped' : 'accepted';
}

const SHOWN_DROPS = 10;

// A dropped message: its index, the fields that identify it, and why Segment drops it.
function dropNode(drop) {
  const fields = Object.entries(drop.message || {})
    .map(([k, v]) => k + ' ' + pretty(v))
    .join(', ');
  const what = 'message ' + pretty(drop.index) + (fields ? ' (' + fields + ')' : '');
  return el('span', { class: 'reason drop', text: 'dropped ' + what + ': ' + pretty(drop.reason) });
}

function reasonNodes(entry) {
  const kind = outcome(entry);
  const out = [el('span', { class: 'outcome o-' + kind, text: kind })];
  if (kind === 'faulted') {
    // A fault rule answered in the emulator's place (POST /_emulator/faults).
    out.push(el('span', { class: 'reason', text: 'by fault rule ' + entry.fault_id }));
  }
  if ((kind === 'rejected' || kind === 'faulted') && entry.error) {
    out.push(
      el(
        'span',
        { class: 'reason' },
        el('code', { class: 'err-code', text: entry.error.code || 'error' }),
        ' ',
        el('span', { text: entry.error.message || '' }),
      ),
    );
  }
  out.push(...journalViolations(entry).slice(0, SHOWN_DROPS));
  const drops = entry.drops || [];
  for (const drop of drops.slice(0, SHOWN_DROPS)) out.push(dropNode(drop));
  if (drops.length > SHOWN_DROPS) {
    const more = drops.length - SHOWN_DROPS;
    out.push(el('span', { class: 'reason drop', text: '+' + more + ' more dropped' }));
  }
  for (const skip of entry.skipped || []) {
    const known = ['reason', 'type', 'index'];
    const extra = Object.entries(skip)
      .filter(([k]) => !known.includes(k))
      .map(([k, v]) => k + ': ' + pretty(v));
    const what = [
      skip.type === undefined ? '' : pretty(skip.type),
      skip.index === undefined ? '' : '(message ' + pretty(skip.index) + ')',
    ]
      .filter(Boolean)
      .join(' ');
    const parts = [(what ? what + ': ' : '') + pretty(skip.reason)].concat(extra);
    const isolated = parts.flatMap((p, i) => [i ? ' · ' : null, el('bdi', { text: p })]);
    out.push(el('span', { class: 'reason' }, isolated));
  }
  return out;
}

const CAPTURE_SHOWN = 4096;

// The request as received (headers without credentials, the start of the body), folded away.
function captureNode(entry) {
  if (!entry.headers && entry.body === undefined) return null;
  const lines = Object.entries(entry.headers || {}).map(([k, v]) => k + ': ' + v);
  let text = lines.join('\n');
  const body = entry.body === null || entry.body === undefined ? '' : entry.body;
  // A thousand rows of 16 KiB bodies would weigh on the page: show each body's start.
  if (body) text += '\n\n' + body.slice(0, CAPTURE_SHOWN);
  if (entry.body_truncated || body.length > CAPTURE_SHOWN) {
    text += '\n… (' + entry.body_bytes + ' bytes in all; GET /_emulator/requests has more)';
  }
  return el(
    'details',
    { class: 'capture' },
    el('summary', { text: 'request' }),
    el('pre', { class: 'v v-json', text }),
  );
}

function journalRow(entry) {
  const kind = outcome(entry);
  return el(
    'tr',
    { class: 'r-' + kind, 'data-id': entry.id },
    el('td', { class: 'num', text: entry.id }),
    el('td', null, timeNode(entry.at)),
    el('td', null, el('span', { class: 'pill', text: entry.surface })),
    el(
      'td',
      null,
      el('span', { class: 'mono' }, entry.method + ' ', el('bdi', { text: entry.path })),
      entry.summary ? el('span', { class: 'summary', text: entry.summary }) : null,
      captureNode(entry),
    ),
    el('td', { class: 'mono', text: entry.merchant_id || '' }),
    el('td', {
      class: 'num status s' + String(entry.status).charAt(0),
      text: entry.status || 'none', // 0: a fault closed the connection without an answer
    }),
    el('td', null, el('div', { class: 'reasons' }, reasonNodes(entry))),
  );
}

function matches(entry) {
  return state.outcome === '' || outcome(entry) === state.outcome;
}

export function renderJournal(fresh) {
  const body = $('requests-table').tBodies[0];
  if (fresh === undefined) {
    clear(body);
    fresh = state.journal;
  }
  body.prepend(...fresh.filter(matches).reverse().map(journalRow));
  while (body.rows.length > JOURNAL_KEEP) body.deleteRow(-1);
  show($('requests-empty'), body.rows.length === 0);
  const count = (kind) => state.journal.filter((e) => outcome(e) === kind).length;
  for (const [id, kind] of [
    ['rejected-count', 'rejected'],
    ['dropped-count', 'dropped'],
    ['skipped-count', 'skipped'],
    ['faulted-count', 'faulted'],
  ]) {
    const n = count(kind);
    $(id).textContent = n + ' ' + kind;
    show($(id), n > 0);
  }
}

// One long-poll: answers at once with anything newer, else when the next call is journaled.
async function pullJournal(first) {
  const wait = first ? '' : '&wait=' + state.wait + '&min_count=1';
  const body = await call('/requests?after_id=' + state.journalAfter + wait);
  actions.regainedContact();
  if (state.merchant === null) setLive('live', 'Live');
  const fresh = body.requests;
  $('journal-note').textContent =
    'Every call on the tracker, Segment and Engage surfaces, newest first. The emulator keeps the last ' +
    body.capacity.toLocaleString() +
    (body.dropped ? '; ' + body.dropped.toLocaleString() + ' older entries were dropped.' : '.');
  if (fresh.length === 0) return false;
  state.journalAfter = fresh[fresh.length - 1].id;
  state.journal = state.journal.concat(fresh).slice(-JOURNAL_KEEP);
  renderJournal(fresh);
  actions.refreshMerchants();
  return true;
}

// Resolves the wait of a hidden tab; the page calls it when the tab is shown again.
export let wakeJournal = () => {};

function shown() {
  return new Promise((resolve) => {
    wakeJournal = resolve;
    if (!document.hidden) resolve();
  });
}

export async function journalLoop() {
  let first = true;
  let backoff = 1000;
  for (;;) {
    if (document.hidden) await shown(); // a hidden tab holds no connection open
    try {
      const got = await pullJournal(first);
      first = false;
      backoff = 1000;
      // Let a burst arrive as one batch; never spin when the server allows no waiting.
      if (got || state.wait < 1) await sleep(state.wait < 1 ? 2000 : 200);
    } catch (err) {
      if (await recover(err, first, backoff)) continue;
      backoff = Math.min(backoff * 2, 10000);
    }
  }
}
