// The request journal: every call on the tracker, Segment and Engage surfaces, polled.

import { $, clear, el, pretty, show, timeNode } from './dashboard-dom.js';
import { JOURNAL_EVERY_MS, JOURNAL_KEEP, actions, state } from './dashboard-state.js';
import { call, lostContact, setLive } from './dashboard-api.js';

// -- the request journal -------------------------------------------------------

function outcome(entry) {
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
  if (kind === 'rejected' && entry.error) {
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
    const text = (what ? what + ': ' : '') + pretty(skip.reason);
    out.push(el('span', { class: 'reason', text: [text].concat(extra).join(' · ') }));
  }
  return out;
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
      el('span', { class: 'mono', text: entry.method + ' ' + entry.path }),
      entry.summary ? el('span', { class: 'summary', text: entry.summary }) : null,
    ),
    el('td', { class: 'mono', text: entry.merchant_id || '' }),
    el('td', { class: 'num status s' + String(entry.status).charAt(0), text: entry.status }),
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
  ]) {
    const n = count(kind);
    $(id).textContent = n + ' ' + kind;
    show($(id), n > 0);
  }
}

async function pullJournal() {
  const body = await call('/requests?after_id=' + state.journalAfter);
  actions.regainedContact();
  if (state.merchant === null) setLive('live', 'Live');
  const fresh = body.requests;
  $('journal-note').textContent =
    'Every call on the tracker, Segment and Engage surfaces, newest first. The emulator keeps the last ' +
    body.capacity.toLocaleString() +
    (body.dropped ? '; ' + body.dropped.toLocaleString() + ' older entries were dropped.' : '.');
  if (fresh.length === 0) return;
  state.journalAfter = fresh[fresh.length - 1].id;
  state.journal = state.journal.concat(fresh).slice(-JOURNAL_KEEP);
  renderJournal(fresh);
  actions.refreshMerchants();
}

export let wakeJournal = () => {};

export async function journalLoop() {
  for (;;) {
    if (!document.hidden) {
      try {
        await pullJournal();
      } catch (err) {
        lostContact(err);
      }
    }
    await new Promise((resolve) => {
      wakeJournal = resolve;
      setTimeout(resolve, JOURNAL_EVERY_MS);
    });
  }
}
