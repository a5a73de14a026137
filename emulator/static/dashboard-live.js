// The merchants list, and the live event feed: one long-poll on the selected merchant.

import {
  $,
  clear,
  el,
  enc,
  eventTitle,
  leadHash,
  plural,
  show,
  sleep,
  timeNode,
} from './dashboard-dom.js';
import { FEED_SIZE, actions, state } from './dashboard-state.js';
import { banner, call, coalesce, lostContact, recover, setLive } from './dashboard-api.js';
import { renderJournal, wakeJournal } from './dashboard-journal.js';
import { refreshDetail, refreshLeads } from './dashboard-leads.js';
import { refreshPlan, verdictNode } from './dashboard-plan.js';
import { refreshAudiences, refreshClock } from './dashboard-engage.js';
import { renderDurable } from './dashboard-durable.js';

// -- contact regained ------------------------------------------------------------

export function regainedContact() {
  if (!state.offline) return;
  state.offline = false;
  banner('');
  // The emulator may have restarted: its journal ids and event seqs begin again.
  state.journal = [];
  state.journalAfter = 0;
  renderJournal();
  startPoll();
}

// -- merchants ---------------------------------------------------------------

export async function loadMerchants() {
  const [health, body] = await Promise.all([call('/health'), call('/merchants')]);
  regainedContact();
  $('version').textContent = 'v' + health.version;
  $('mode').textContent = health.mode + ' mode';
  show($('version'), true);
  show($('mode'), true);
  renderDurable(health);
  $('usage').textContent =
    health.total_events.toLocaleString() + ' / ' + health.max_events.toLocaleString() + ' events';
  state.merchants = body.merchants;
  renderMerchants();
  refreshClock(); // another client may have moved it
  const row = state.merchants.find((m) => m.id === state.merchant);
  const shrank = health.total_events < state.totalEvents;
  state.totalEvents = health.total_events;
  if (state.merchant !== null && (shrank || (row ? row.event_count : 0) < state.lastSeq)) {
    startPoll(); // the merchant was reset: its seqs start again from 1
    refreshLeads();
    refreshDetail();
  }
  if (state.view === 'welcome' && state.merchants.length > 0 && !location.hash.slice(2)) {
    location.replace('#/m/' + enc(state.merchants[0].id));
  }
}
export const refreshMerchants = coalesce(loadMerchants, 1000);

export function renderMerchants() {
  const list = clear($('merchants'));
  for (const m of state.merchants) {
    const selected = m.id === state.merchant && state.view === 'merchant';
    list.append(
      el(
        'li',
        null,
        el(
          'button',
          {
            type: 'button',
            class: 'nav-item merchant' + (selected ? ' selected' : ''),
            'data-merchant': m.id,
            'aria-current': selected ? 'page' : null,
            onclick: () => actions.go('#/m/' + enc(m.id)),
          },
          el('span', { class: 'nav-name', text: m.id }),
          m.configured ? el('span', { class: 'badge', text: 'configured' }) : null,
          el(
            'span',
            { class: 'nav-counts' },
            el('span', { class: 'lead-n', text: plural(m.lead_count, 'lead') }),
            ' · ' + plural(m.visitor_count, 'visitor') + ' · ' + plural(m.event_count, 'event'),
          ),
        ),
      ),
    );
  }
  show($('merchants-empty'), state.merchants.length === 0);
  $('nav-requests').classList.toggle('selected', state.view === 'requests');
}

// -- the live event feed: one long-poll on the selected merchant ---------------

export function startPoll() {
  if (state.pollAbort) state.pollAbort.abort();
  state.pollGen += 1;
  state.feed = [];
  renderFeed(true);
  if (state.merchant === null) return;
  state.pollAbort = new AbortController();
  pollLoop(state.pollGen, state.merchant, state.pollAbort.signal);
}

function visible() {
  return new Promise((resolve) => {
    const check = () => {
      if (document.hidden) return;
      document.removeEventListener('visibilitychange', check);
      resolve();
    };
    document.addEventListener('visibilitychange', check);
  });
}

async function pollLoop(gen, merchant, signal) {
  const base = '/merchants/' + enc(merchant) + '/events';
  const row = state.merchants.find((m) => m.id === merchant);
  let backoff = 1000;
  let first = true;
  state.lastSeq = Math.max(0, (row ? row.event_count : 0) - FEED_SIZE);
  while (gen === state.pollGen) {
    // A hidden tab gives its server thread back, and starts afresh from the tail when shown.
    if (!first && document.hidden) {
      await visible();
      if (gen !== state.pollGen) return;
      try {
        await loadMerchants();
      } catch (err) {
        lostContact(err);
      }
      if (gen !== state.pollGen) return;
      startPoll();
      refreshLeads();
      refreshDetail();
      return;
    }
    const wait = first ? '' : '&wait=' + state.wait + '&min_count=1';
    try {
      const body = await call(base + '?after_seq=' + state.lastSeq + wait, signal);
      if (gen !== state.pollGen) return;
      regainedContact();
      if (gen !== state.pollGen) return; // reconnecting restarted the feed
      setLive('live', 'Live');
      backoff = 1000;
      if (body.events.length > 0) ingest(body.events, first);
      else refreshMerchants(); // an idle wait: recheck counts, which also reveals a reset
      // Let a burst arrive as one batch; never spin when the server allows no waiting.
      if (body.events.length > 0 || (!first && state.wait < 1))
        await sleep(state.wait < 1 ? 2000 : 200);
      first = false;
    } catch (err) {
      if (gen !== state.pollGen || signal.aborted) return;
      if (await recover(err, first, backoff)) continue;
      backoff = Math.min(backoff * 2, 10000);
    }
  }
}

function ingest(events, initial) {
  state.lastSeq = events[events.length - 1].seq;
  // An identify links its visitor: that visitor's earlier events now belong to the lead.
  let relinked = false;
  for (const e of events) {
    if (e.type !== 'identify' || !e.anonymous_id || e.lead_id === null) continue;
    for (const old of state.feed) {
      if (old.anonymous_id === e.anonymous_id && old.lead_id === null) {
        old.lead_id = e.lead_id;
        relinked = true;
      }
    }
  }
  state.feed = events.slice(-FEED_SIZE).reverse().concat(state.feed).slice(0, FEED_SIZE);
  const full = initial || relinked;
  renderFeed(full, full ? state.feed : events.slice().reverse());
  if (initial) return;
  wakeJournal(); // the calls behind these events are in the journal now too
  refreshMerchants();
  refreshLeads();
  if (state.tab === 'plan') refreshPlan();
  if (state.tab === 'audiences') refreshAudiences(); // a sync's identifies are events too
  if (events.some((e) => e.lead_id !== null && e.lead_id === state.leadId)) refreshDetail();
}

function leadButton(leadId) {
  if (leadId === null || leadId === undefined) return el('span', { class: 'muted', text: '—' });
  return el('button', {
    type: 'button',
    class: 'link',
    text: leadId,
    onclick: () => actions.go(leadHash(state.merchant, leadId)),
  });
}

function feedRow(e) {
  return el(
    'tr',
    { 'data-seq': e.seq },
    el('td', { class: 'num', text: e.seq }),
    el('td', null, timeNode(e.received_at)),
    el('td', null, el('span', { class: 'type t-' + e.type, text: e.type })),
    el('td', { class: 'title-cell', text: eventTitle(e) }),
    el('td', null, leadButton(e.lead_id)),
    el('td', { class: 'mono', text: e.anonymous_id || '' }),
    el('td', null, el('span', { class: 'pill', text: e.source })),
    el('td', null, verdictNode(e.violations)),
  );
}

function renderFeed(full, fresh) {
  const body = $('events-table').tBodies[0];
  if (full) clear(body);
  const rows = (fresh || []).map(feedRow);
  body.prepend(...rows);
  while (body.rows.length > FEED_SIZE) body.deleteRow(-1);
  show($('events-empty'), body.rows.length === 0);
}
