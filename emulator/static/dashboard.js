// The emulator's live dashboard. It reads only the admin API under /_emulator and builds every
// node with createElement/textContent, so no value from the API is ever parsed as HTML.
'use strict';

(() => {
  const API = '/_emulator';
  const TOKEN_KEY = 'wishpond-emulator.admin-token';
  const LONG_POLL_SECONDS = 25; // halved while the emulator's --max-wait is lower
  const JOURNAL_EVERY_MS = 2000; // rejected calls make no event, so the journal is polled
  const MAX_LEAD_ROWS = 500;
  const FEED_SIZE = 200;
  const JOURNAL_KEEP = 1000;
  const TIMELINE_MAX = 300;

  const state = {
    merchants: [],
    merchant: null,
    leadId: null,
    view: 'welcome', // welcome | merchant | requests
    tab: 'leads',
    leads: [],
    leadsFor: null,
    seenUpdates: new Map(),
    lastSeq: 0,
    totalEvents: 0,
    feed: [],
    journal: [],
    journalAfter: 0,
    outcome: '',
    pollGen: 0,
    pollAbort: null,
    offline: false,
    wait: LONG_POLL_SECONDS,
    bannerTimer: 0,
  };

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // -- DOM building: text only -------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key === 'onclick') node.addEventListener('click', value);
      else node.setAttribute(key, String(value)); // only inert attributes: title, data-*, aria-*
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child); // strings become text nodes
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function plural(n, noun) {
    return n.toLocaleString() + ' ' + noun + (n === 1 ? '' : 's');
  }

  function pretty(value) {
    if (typeof value === 'string') return value;
    if (value === undefined) return '';
    const flat = JSON.stringify(value);
    return flat.length <= 60 ? flat : JSON.stringify(value, null, 2);
  }

  function valueNode(value) {
    let kind = 'json';
    if (value === null) kind = 'null';
    else if (typeof value === 'string') kind = 'str';
    else if (typeof value === 'number') kind = 'num';
    else if (typeof value === 'boolean') kind = 'bool';
    const tag = kind === 'json' ? 'pre' : 'span';
    return el(tag, { class: 'v v-' + kind, text: pretty(value) });
  }

  function when(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const time = d.toLocaleTimeString([], { hour12: false });
    const today = new Date().toDateString() === d.toDateString();
    return today ? time : d.toLocaleDateString() + ' ' + time;
  }

  function timeNode(iso) {
    return el('time', { datetime: iso, title: iso, text: when(iso) });
  }

  function leadName(lead) {
    const a = lead.attributes || {};
    const str = (v) => (typeof v === 'string' && v.trim() ? v.trim() : '');
    const full = [str(a.first_name), str(a.last_name)].filter(Boolean).join(' ');
    return str(a.name) || full || str(a.email) || lead.id;
  }

  // -- the admin API, with the bearer token when one is needed ------------------

  class AuthError extends Error {}

  async function api(path, signal) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(API + path, { headers, signal, cache: 'no-store' });
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    const error = body && body.error ? body.error : {};
    if (res.status === 401) throw new AuthError(error.code || 'admin_token_required');
    if (!res.ok) {
      const err = new Error(error.message || 'The emulator answered ' + res.status + '.');
      err.status = res.status;
      err.code = error.code;
      throw err;
    }
    return body;
  }

  let tokenWaiters = null;

  function waitForToken(code) {
    if (tokenWaiters === null) {
      tokenWaiters = [];
      setLive('locked', 'Locked');
      const hadToken = sessionStorage.getItem(TOKEN_KEY) !== null;
      sessionStorage.removeItem(TOKEN_KEY);
      $('token-error').textContent =
        hadToken || code === 'invalid_admin_token' ? 'The saved token was not accepted.' : '';
      $('token-input').value = '';
      if (!$('token-dialog').open) $('token-dialog').showModal();
      $('token-input').focus();
    }
    return new Promise((resolve) => tokenWaiters.push(resolve));
  }

  async function submitToken(event) {
    event.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-submit').disabled = true;
    try {
      await api('/health');
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      $('token-error').textContent =
        err instanceof AuthError ? 'That token does not match --admin-token.' : err.message;
      return;
    } finally {
      $('token-submit').disabled = false;
    }
    $('token-dialog').close();
    show($('forget-token'), true);
    const waiters = tokenWaiters || [];
    tokenWaiters = null;
    waiters.forEach((resolve) => resolve());
  }

  async function call(path, signal) {
    for (;;) {
      try {
        return await api(path, signal);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        await waitForToken(err.message);
      }
    }
  }

  // -- live status and errors --------------------------------------------------

  function setLive(kind, text) {
    $('live').dataset.state = kind;
    $('live-text').textContent = text;
  }

  function banner(text) {
    $('banner').textContent = text || '';
    show($('banner'), Boolean(text));
  }

  function lostContact(err) {
    if (err && err.name === 'AbortError') return;
    if (err && err.status) {
      banner(err.message); // the emulator answered, but refused: say why
      clearTimeout(state.bannerTimer);
      state.bannerTimer = setTimeout(
        () => banner(state.offline ? $('banner').textContent : ''),
        8000,
      );
      return;
    }
    state.offline = true;
    setLive('offline', 'Offline');
    banner('Lost contact with the emulator (' + err.message + '). Retrying…');
  }

  function regainedContact() {
    if (!state.offline) return;
    state.offline = false;
    banner('');
    // The emulator may have restarted: its journal ids and event seqs begin again.
    state.journal = [];
    state.journalAfter = 0;
    renderJournal();
    startPoll();
  }

  // Run fn now, then at most once per gap while triggers keep arriving.
  function coalesce(fn, gap) {
    let busy = false;
    let pending = false;
    async function run() {
      busy = true;
      try {
        await fn();
      } catch (err) {
        lostContact(err);
      }
      await sleep(gap);
      busy = false;
      if (pending) {
        pending = false;
        run();
      }
    }
    return () => {
      if (busy) pending = true;
      else run();
    };
  }

  // -- merchants ---------------------------------------------------------------

  async function loadMerchants() {
    const [health, body] = await Promise.all([call('/health'), call('/merchants')]);
    regainedContact();
    $('version').textContent = 'v' + health.version;
    $('mode').textContent = health.mode + ' mode';
    show($('version'), true);
    show($('mode'), true);
    $('usage').textContent =
      health.total_events.toLocaleString() + ' / ' + health.max_events.toLocaleString() + ' events';
    state.merchants = body.merchants;
    renderMerchants();
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
  const refreshMerchants = coalesce(loadMerchants, 1000);

  function renderMerchants() {
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
              onclick: () => go('#/m/' + enc(m.id)),
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

  function startPoll() {
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
        if (err.code === 'invalid_parameter' && !first && state.wait >= 1) {
          state.wait = Math.floor(state.wait / 2); // the emulator caps waits lower (--max-wait)
          continue;
        }
        lostContact(err);
        await sleep(backoff);
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
    if (events.some((e) => e.lead_id !== null && e.lead_id === state.leadId)) refreshDetail();
  }

  function eventTitle(e) {
    if (e.type === 'track') return e.event;
    if (e.type === 'page') {
      const p = e.properties || {};
      return (
        'Page ' + (typeof p.path === 'string' ? p.path : typeof p.url === 'string' ? p.url : '')
      );
    }
    return 'Identify';
  }

  function leadButton(leadId) {
    if (leadId === null || leadId === undefined) return el('span', { class: 'muted', text: '—' });
    return el('button', {
      type: 'button',
      class: 'link',
      text: leadId,
      onclick: () => go(leadHash(state.merchant, leadId)),
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

  // -- leads -------------------------------------------------------------------

  async function loadLeads() {
    const merchant = state.merchant;
    if (merchant === null) return;
    const body = await call('/merchants/' + enc(merchant) + '/leads');
    if (merchant !== state.merchant) return;
    state.leads = body.leads;
    renderLeads();
  }
  const refreshLeads = coalesce(loadLeads, 400);

  function searchText(lead) {
    const parts = [lead.id, ...(lead.anonymous_ids || [])];
    for (const value of Object.values(lead.attributes || {})) {
      parts.push(typeof value === 'string' ? value : JSON.stringify(value));
    }
    return parts.join('\n').toLowerCase();
  }

  function renderLeads() {
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
                'lead-row' +
                (lead.id === state.leadId ? ' selected' : '') +
                (fresh ? ' fresh' : ''),
              'data-lead-id': lead.id,
              onclick: () => go(leadHash(state.merchant, lead.id)),
            },
            el('span', {
              class: 'avatar',
              'aria-hidden': 'true',
              text: Array.from(name)[0] || '?',
            }),
            el(
              'span',
              { class: 'lead-main' },
              el('span', { class: 'lead-name', text: name }),
              el('span', { class: 'lead-sub', text: [email, lead.id].filter(Boolean).join(' · ') }),
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
  const refreshDetail = coalesce(loadDetail, 500);

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
          ' #' + e.seq + ' ',
          timeNode(e.received_at),
        ),
      ),
      changes.length ? el('div', { class: 'chips tl-chips' }, changes) : null,
      e.anonymous_id ? el('div', { class: 'tl-anon', text: 'visitor ' + e.anonymous_id }) : null,
      body,
    );
  }

  // -- the request journal -------------------------------------------------------

  function outcome(entry) {
    if (entry.status >= 400) return 'rejected';
    return entry.skipped && entry.skipped.length ? 'skipped' : 'accepted';
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

  function renderJournal(fresh) {
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
      ['skipped-count', 'skipped'],
    ]) {
      const n = count(kind);
      $(id).textContent = n + ' ' + kind;
      show($(id), n > 0);
    }
  }

  async function pullJournal() {
    const body = await call('/requests?after_id=' + state.journalAfter);
    regainedContact();
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
    refreshMerchants();
  }

  let wakeJournal = () => {};

  async function journalLoop() {
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

  // -- routing: #/m/<merchant>[/events|/lead/<id>] and #/requests --------------------

  function leadHash(merchant, leadId) {
    return '#/m/' + enc(merchant) + '/lead/' + enc(leadId);
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function parseHash() {
    let parts;
    try {
      parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    } catch (_) {
      return { view: 'welcome' };
    }
    if (parts[0] === 'requests') return { view: 'requests' };
    if (parts[0] === 'm' && parts[1]) {
      const leadId = parts[2] === 'lead' && parts.length > 3 ? parts.slice(3).join('/') : null;
      return {
        view: 'merchant',
        merchant: parts[1],
        tab: parts[2] === 'events' ? 'events' : 'leads',
        leadId,
      };
    }
    return { view: 'welcome' };
  }

  function route() {
    const r = parseHash();
    state.view = r.view;
    show($('view-welcome'), r.view === 'welcome');
    show($('view-merchant'), r.view === 'merchant');
    show($('view-requests'), r.view === 'requests');
    if (r.view === 'merchant') {
      const changed = r.merchant !== state.merchant;
      state.merchant = r.merchant;
      state.tab = r.tab;
      $('merchant-title').textContent = r.merchant;
      if (changed) {
        state.leads = [];
        state.leadsFor = null;
        $('search').value = '';
        renderLeads();
        startPoll();
        refreshLeads();
      }
      // The Events tab keeps the open lead, so going back to Leads shows it again.
      if (changed || (r.tab === 'leads' && r.leadId !== state.leadId)) {
        state.leadId = r.leadId;
        show($('detail'), false);
        $('detail-empty').textContent =
          r.leadId === null
            ? 'Select a lead to see its attributes, audiences and event timeline.'
            : 'Loading…';
        show($('detail-empty'), true);
        if (r.leadId !== null) refreshDetail();
      }
      for (const t of document.querySelectorAll('#leads .lead-row')) {
        t.classList.toggle('selected', t.dataset.leadId === state.leadId);
      }
      $('tab-leads').setAttribute('aria-selected', String(state.tab === 'leads'));
      $('tab-events').setAttribute('aria-selected', String(state.tab === 'events'));
      show($('pane-leads'), state.tab === 'leads');
      show($('pane-events'), state.tab === 'events');
    }
    document.title =
      (r.view === 'merchant' ? r.merchant + ' · ' : r.view === 'requests' ? 'Requests · ' : '') +
      'Wishpond Emulator';
    renderMerchants();
  }

  // -- start ---------------------------------------------------------------------

  function bind() {
    $('token-form').addEventListener('submit', submitToken);
    $('token-dialog').addEventListener('cancel', (e) => e.preventDefault()); // nothing works without it
    $('forget-token').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      location.reload();
    });
    $('search').addEventListener('input', renderLeads);
    $('nav-requests').addEventListener('click', () => go('#/requests'));
    $('tab-leads').addEventListener('click', () =>
      go(state.leadId ? leadHash(state.merchant, state.leadId) : '#/m/' + enc(state.merchant)),
    );
    $('tab-events').addEventListener('click', () => go('#/m/' + enc(state.merchant) + '/events'));
    for (const tab of $('outcome-filter').querySelectorAll('[data-outcome]')) {
      tab.addEventListener('click', () => {
        state.outcome = tab.dataset.outcome;
        for (const t of $('outcome-filter').querySelectorAll('[data-outcome]')) {
          t.setAttribute('aria-selected', String(t === tab));
        }
        renderJournal();
      });
    }
    window.addEventListener('hashchange', route);
    document.addEventListener('keydown', (e) => {
      const typing = e.target instanceof HTMLInputElement;
      if (e.key === '/' && !typing && state.view === 'merchant' && state.tab === 'leads') {
        e.preventDefault();
        $('search').focus();
      } else if (e.key === 'Escape' && e.target === $('search')) {
        $('search').value = '';
        renderLeads();
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) wakeJournal();
    });
    $('welcome-example').textContent =
      'curl -s ' +
      location.origin +
      '/tracker/v1/identify \\\n' +
      "  -H 'Content-Type: application/json' \\\n" +
      '  -d \'{"merchant_id": "m1", "write_key": "k1", "id": "lead-1",\n' +
      '       "attributes": {"email": "jane@example.com", "name": "Jane Kim"}}\'';
  }

  async function start() {
    bind();
    show($('forget-token'), sessionStorage.getItem(TOKEN_KEY) !== null);
    try {
      await loadMerchants();
    } catch (err) {
      lostContact(err);
    }
    route();
    journalLoop();
  }

  start();
})();
