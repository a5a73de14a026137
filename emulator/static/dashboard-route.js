// The views' addresses: #/m/<merchant>[/events|/audiences|/plan|/lead/<id>] and #/requests.

import { $, show } from './dashboard-dom.js';
import { state } from './dashboard-state.js';
import { renderMerchants, startPoll } from './dashboard-live.js';
import { refreshDetail, refreshLeads, renderLeads } from './dashboard-leads.js';
import { refreshAudiences } from './dashboard-engage.js';
import { refreshPlan } from './dashboard-plan.js';

// -- routing: #/m/<merchant>[/events|/audiences|/plan|/lead/<id>] and #/requests -----

export function go(hash) {
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
      tab: ['events', 'audiences', 'plan'].includes(parts[2]) ? parts[2] : 'leads',
      leadId,
    };
  }
  return { view: 'welcome' };
}

export function route() {
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
    $('tab-audiences').setAttribute('aria-selected', String(state.tab === 'audiences'));
    $('tab-plan').setAttribute('aria-selected', String(state.tab === 'plan'));
    show($('pane-leads'), state.tab === 'leads');
    show($('pane-events'), state.tab === 'events');
    show($('pane-audiences'), state.tab === 'audiences');
    show($('pane-plan'), state.tab === 'plan');
    if (changed) state.audiences = [];
    if (state.tab === 'audiences') refreshAudiences();
    if (state.tab === 'plan') refreshPlan();
  }
  document.title =
    (r.view === 'merchant' ? r.merchant + ' · ' : r.view === 'requests' ? 'Requests · ' : '') +
    'Wishpond Emulator';
  renderMerchants();
}
