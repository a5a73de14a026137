// The lead list with its search, and one lead: attributes, audiences and event timeline.

import {
  $,
  clear,
  el,
  enc,
  eventTitle,
  leadHash,
  leadName,
  plural,
  show,
  timeNode,
  valueNode,
} from './dashboard-dom.js';
import { MAX_LEAD_ROWS, TIMELINE_MAX, actions, state } from './dashboard-state.js';
import { call, coalesce } from './dashboard-api.js';
import { verdictNode, violationList } from './dashboard-plan.js';

// -- leads -------------------------------------------------------------------

async function loadLeads() {
  const merchant = state.merchant;
  if (merchant === null) return;
  const body = await call('/merchants/' + enc(merchant) + '/leads');
  if (merchant !== state.merchant) return;
  state.leads = body.leads;
  renderLeads();
}
export const refreshLeads = coalesce(loadLeads, 400);

function searchText(lead) {
  const parts = [lead.id, ...(lead.anonymous_ids || [])];
  for (const value of Object.values(lead.attributes || {})) {
    parts.push(typeof value === 'string' ? value : JSON.stringify(value));
  }
  return parts.join('\n').toLowerCase();
}

export function renderLeads() {
  const query = $('search').value.trim().toLowerCase();
  const sorted = state.leads
    .slice()
    .sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0));
  const found = query ? sorted.filter((l) => searchText(l).includes(query)) : sorted;
  const list = clear($('leads'));
  const firstRender = state.leadsFor !== state.merchant;
  for (const lead of found.slice(0, MAX_LEAD_ROWS)) {
    const seen = state.seenUpdates.get(lead.id);
    const fresh = !firstRender && seen !== lead.updated_at;
    const name = leadName(lead);
    const email = typeof lead.attributes.email === 'string' ? lead.attributes.email : '';
    const audiences = Object.entries(lead.audiences || {}).filter(([, v]) => v === true);
    list.append(
      el(
        'li',
        null,
        el(
          'button',
          {
            type: 'button',
            class:
              'lead-row' + (lead.id === state.leadId ? ' selected' : '') + (fresh ? ' fresh' : ''),
            'data-lead-id': lead.id,
            onclick: () => actions.go(leadHash(state.merchant, lead.id)),
          },
          el('span', {
            class: 'avatar',
            'aria-hidden': 'true',
            text: Array.from(name).find((c) => /[\p{L}\p{N}]/u.test(c)) || '?',
          }),
          el(
            'span',
            { class: 'lead-main' },
            el('span', { class: 'lead-name', text: name }),
            el(
              'span',
              { class: 'lead-sub' },
              email ? [el('bdi', { text: email }), ' · '] : null,
              el('bdi', { text: lead.id }),
            ),
          ),
          el(
            'span',
            { class: 'lead-side' },
            timeNode(lead.updated_at),
            el(
              'span',
              { class: 'lead-stats' },
              audiences.length
                ? el('span', { class: 'badge ok', text: audiences.length + ' aud.' })
                : null,
              el('span', { class: 'badge', text: lead.event_count + ' ev.' }),
            ),
          ),
        ),
      ),
    );
  }
  state.seenUpdates = new Map(state.leads.map((l) => [l.id, l.updated_at]));
  state.leadsFor = state.merchant;
  const shown = Math.min(found.length, MAX_LEAD_ROWS);
  $('lead-count').textContent = query
    ? found.length + ' of ' + state.leads.length
    : plural(state.leads.length, 'lead');
  const empty = $('leads-empty');
  empty.textContent =
    found.length > shown
      ? 'Showing the newest ' + shown + '; search to narrow the list.'
      : query
        ? 'No lead matches “' + query + '”.'
        : 'No leads yet. Identify a visitor and the lead appears here.';
  show(empty, found.length === 0 || found.length > shown);
}

// -- one lead ----------------------------------------------------------------

async function loadDetail() {
  const merchant = state.merchant;
  const leadId = state.leadId;
  if (merchant === null || leadId === null) return;
  let lead;
  try {
    lead = await call('/merchants/' + enc(merchant) + '/leads/' + enc(leadId));
  } catch (err) {
    if (merchant !== state.merchant || leadId !== state.leadId) return;
    show($('detail'), false);
    $('detail-empty').textContent = err.message;
    show($('detail-empty'), true);
    return;
  }
  if (merchant !== state.merchant || leadId !== state.leadId) return;
  renderDetail(lead);
}
export const refreshDetail = coalesce(loadDetail, 500);

function renderDetail(lead) {
  show($('detail-empty'), false);
  show($('detail'), true);
  $('detail-title').textContent = leadName(lead);
  $('detail-sub').textContent = lead.id;
  const meta = clear($('detail-meta'));
  const item = (label, ...value) =>
    meta.append(el('div', null, el('dt', { text: label }), el('dd', null, ...value)));
  item('Lead id', el('span', { class: 'mono', text: lead.id }));
  item('Created', timeNode(lead.created_at));
  item('Updated', timeNode(lead.updated_at));
  item('Events', String(lead.event_count));
  item(
    'Visitors',
    lead.anonymous_ids.length
      ? lead.anonymous_ids.map((a) => el('span', { class: 'mono chip-id', text: a }))
      : el('span', { class: 'muted', text: 'none' }),
  );

  const attrs = clear($('detail-attributes').tBodies[0]);
  const keys = Object.keys(lead.attributes).sort();
  for (const key of keys) {
    attrs.append(
      el(
        'tr',
        null,
        el('th', { scope: 'row', text: key }),
        el('td', null, valueNode(lead.attributes[key])),
      ),
    );
  }
  if (keys.length === 0)
    attrs.append(el('tr', null, el('td', { class: 'muted', text: 'No attributes.' })));

  const chips = clear($('detail-audiences'));
  for (const [key, member] of Object.entries(lead.audiences).sort()) {
    chips.append(
      el(
        'span',
        { class: 'chip ' + (member ? 'in' : 'out'), title: member ? 'member' : 'not a member' },
        el('span', { class: 'chip-mark', 'aria-hidden': 'true', text: member ? '✓' : '✕' }),
        el('span', { text: key }),
        el('span', { class: 'chip-val', text: String(member) }),
      ),
    );
  }
  if (Object.keys(lead.audiences).length === 0) {
    chips.append(el('span', { class: 'muted', text: 'Not in any Engage audience.' }));
  }
  const history = lead.audience_history || [];
  const hist = clear($('detail-history').tBodies[0]);
  for (const h of history.slice().reverse()) {
    hist.append(
      el(
        'tr',
        null,
        el('td', { class: 'num', text: h.seq }),
        el('td', { text: h.key }),
        el(
          'td',
          null,
          el('span', { class: 'v v-bool ' + (h.value ? 'yes' : 'no'), text: String(h.value) }),
        ),
        el('td', null, timeNode(h.received_at)),
      ),
    );
  }
  show($('detail-history'), history.length > 0);

  const timeline = clear($('detail-events'));
  const events = lead.events.slice().reverse();
  const toggles = new Map();
  for (const h of history) toggles.set(h.seq, (toggles.get(h.seq) || []).concat([h]));
  for (const e of events.slice(0, TIMELINE_MAX)) timeline.append(timelineItem(e, toggles));
  if (events.length > TIMELINE_MAX) {
    timeline.append(
      el('li', {
        class: 'muted more',
        text: events.length - TIMELINE_MAX + ' older events not shown.',
      }),
    );
  }
  if (events.length === 0) timeline.append(el('li', { class: 'muted', text: 'No events.' }));
}

function payloadNode(payload) {
  const entries = Object.entries(payload);
  if (entries.some(([, v]) => v !== null && typeof v === 'object')) {
    return el('pre', { class: 'v v-json', text: JSON.stringify(payload, null, 2) });
  }
  return el(
    'table',
    { class: 'kv small' },
    el(
      'tbody',
      null,
      entries.map(([k, v]) =>
        el('tr', null, el('th', { scope: 'row', text: k }), el('td', null, valueNode(v))),
      ),
    ),
  );
}

function timelineItem(e, toggles) {
  const payload = e.type === 'identify' ? e.attributes : e.properties;
  const label = e.type === 'identify' ? ['attribute', 'attributes'] : ['property', 'properties'];
  const count = payload ? Object.keys(payload).length : 0;
  let body = null;
  if (count > 0) {
    body = el(
      'details',
      { open: count <= 8 ? '' : null },
      el('summary', { text: count + ' ' + label[count === 1 ? 0 : 1] }),
      payloadNode(payload),
    );
  }
  const changes = (toggles.get(e.seq) || []).map((h) =>
    el(
      'span',
      { class: 'chip small ' + (h.value ? 'in' : 'out') },
      el('span', { text: (h.value ? 'entered ' : 'left ') + h.key }),
    ),
  );
  return el(
    'li',
    { class: 'tl t-' + e.type, 'data-seq': e.seq },
    el(
      'div',
      { class: 'tl-head' },
      el('span', { class: 'type t-' + e.type, text: e.type }),
      el('span', { class: 'tl-title', text: eventTitle(e) }),
      el(
        'span',
        { class: 'tl-meta' },
        el('span', { class: 'pill', text: e.source }),
        verdictNode(e.violations),
        ' #' + e.seq + ' ',
        timeNode(e.received_at),
      ),
    ),
    violationList(e.violations),
    changes.length ? el('div', { class: 'chips tl-chips' }, changes) : null,
    e.anonymous_id
      ? el('div', { class: 'tl-anon' }, 'visitor ', el('bdi', { text: e.anonymous_id }))
      : null,
    body,
  );
}
