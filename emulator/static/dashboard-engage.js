// The emulator's clock and a merchant's computed audiences: who is a member as of the last sync,
// when the next sync falls due, and buttons to advance the clock or run a sync now.

import { $, clear, el, enc, leadHash, plural, show, timeNode } from './dashboard-dom.js';
import { actions, state } from './dashboard-state.js';
import { call, coalesce, lostContact, send } from './dashboard-api.js';
import { refreshDetail, refreshLeads } from './dashboard-leads.js';

const UNITS = [
  ['d', 86400000],
  ['h', 3600000],
  ['m', 60000],
  ['s', 1000],
];
let clock = null; // the last reading: {now, offset_seconds, read: Date.now() when read}

// -- the clock -------------------------------------------------------------------

function span(ms) {
  if (ms <= 0) return '0s';
  const parts = [];
  let rest = Math.ceil(ms / 1000) * 1000;
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count) parts.push(count + unit);
  }
  return parts.slice(0, 2).join(' ');
}

function clockNow() {
  return clock === null ? Date.now() : Date.parse(clock.now) + (Date.now() - clock.read);
}

async function loadClock() {
  const body = await call('/clock');
  clock = { ...body, read: Date.now() };
  renderClock();
}
export const refreshClock = coalesce(loadClock, 1000);

function renderClock() {
  if (clock === null) return;
  const now = new Date(clockNow()).toISOString();
  const ahead = clock.offset_seconds > 0 ? ' +' + span(clock.offset_seconds * 1000) : '';
  const pill = $('clock');
  pill.textContent = 'clock ' + now.slice(0, 16).replace('T', ' ') + ahead;
  pill.title = "The emulator's clock: " + now + (ahead ? ' (' + ahead.trim() + ' ahead)' : '');
  show(pill, true);
  $('clock-now').textContent = now;
  $('clock-offset').textContent = ahead ? '(' + ahead.trim() + ' ahead of real time)' : '';
  for (const node of document.querySelectorAll('[data-due]')) {
    node.textContent = 'in ' + span(Date.parse(node.dataset.due) - clockNow());
  }
}

function said(text, failed) {
  const out = $('clock-result');
  out.textContent = text;
  out.classList.toggle('error', Boolean(failed));
}

function changed() {
  refreshAudiences();
  refreshLeads();
  refreshDetail();
  actions.refreshMerchants();
}

async function advance(event) {
  event.preventDefault();
  const text = $('advance-input').value.trim();
  if (!text) return;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : text; // a bare number: seconds
  $('advance-button').disabled = true;
  try {
    const body = await send('POST', '/clock', { advance: value });
    clock = { ...body, read: Date.now() };
    renderClock();
    const mine = body.syncs.filter((s) => s.merchant_id === state.merchant);
    const moved = mine.reduce((n, s) => n + s.entered.length + s.exited.length, 0);
    const here = mine.length ? ', ' + plural(moved, 'membership change') + ' here.' : '.';
    said('Advanced ' + text + ': ' + plural(body.syncs.length, 'sync') + ' ran' + here);
    changed();
  } catch (err) {
    said(err.message, true);
  } finally {
    $('advance-button').disabled = false;
  }
}

async function syncNow(key) {
  const merchant = state.merchant;
  try {
    const body = await send(
      'POST',
      '/merchants/' + enc(merchant) + '/computed-audiences/' + enc(key) + '/sync',
    );
    said(
      'Synced ' + key + ': ' + body.entered.length + ' entered, ' + body.exited.length + ' exited.',
    );
    changed();
  } catch (err) {
    said(err.message, true);
  }
}

// -- computed audiences ----------------------------------------------------------

async function loadAudiences() {
  const merchant = state.merchant;
  if (merchant === null || state.tab !== 'audiences') return;
  const body = await call('/merchants/' + enc(merchant) + '/computed-audiences');
  if (merchant !== state.merchant) return;
  state.audiences = body.computed_audiences;
  renderAudiences();
}
export const refreshAudiences = coalesce(loadAudiences, 500);

function ruleText(rule) {
  if ('trait' in rule) return rule.trait + ' = ' + JSON.stringify(rule.equals);
  const where = rule.where ? ' where ' + JSON.stringify(rule.where) : '';
  const count = rule.min_count > 1 ? rule.min_count + '× ' : '';
  return count + '“' + rule.event + '”' + where + ' in the last ' + rule.within;
}

function memberList(members) {
  if (members.length === 0) return el('span', { class: 'muted', text: 'none' });
  const shown = members.slice(0, 50).map((id) =>
    el('button', {
      type: 'button',
      class: 'link',
      text: id,
      onclick: () => actions.go(leadHash(state.merchant, id)),
    }),
  );
  const hidden = members.length - shown.length;
  return [...shown, hidden ? el('span', { class: 'muted', text: '+' + hidden + ' more' }) : null];
}

function nextSync(a) {
  if (!a.next_sync_at) return el('span', { class: 'muted', text: 'never' });
  return el(
    'span',
    null,
    timeNode(a.next_sync_at),
    ' ',
    el('span', { class: 'muted', 'data-due': a.next_sync_at }),
    el('div', { class: 'muted', text: 'then every ' + a.sync_every }),
  );
}

function audienceRow(a) {
  return el(
    'tr',
    { 'data-key': a.key },
    el(
      'td',
      null,
      el('div', { class: 'mono', text: a.key }),
      a.name !== a.key ? el('div', { class: 'muted', text: a.name }) : null,
    ),
    el('td', { text: ruleText(a.rule) }),
    el('td', { class: 'members' }, memberList(a.members)),
    el(
      'td',
      null,
      a.last_sync_at ? timeNode(a.last_sync_at) : el('span', { class: 'muted', text: 'not yet' }),
    ),
    el('td', null, nextSync(a)),
    el(
      'td',
      null,
      el('button', {
        type: 'button',
        class: 'small-button',
        text: 'Sync now',
        onclick: () => syncNow(a.key),
      }),
    ),
  );
}

export function renderAudiences() {
  const body = clear($('audiences-table').tBodies[0]);
  for (const a of state.audiences) body.append(audienceRow(a));
  show($('audiences-table'), state.audiences.length > 0);
  show($('audiences-empty'), state.audiences.length === 0);
  renderClock();
}

export function startEngage() {
  $('clock-form').addEventListener('submit', (e) => advance(e).catch(lostContact));
  setInterval(renderClock, 1000);
  refreshClock();
}
