// The emulator's live dashboard. It reads only the admin API under /_emulator and builds every
// node with createElement/textContent, so no value from the API is ever parsed as HTML.
// The page loads this module, which starts the rest. Each module imports only modules below it
// (state, dom, api, durable, then plan < journal < leads < engage < live < route); the few
// calls that go upward (a view links to a route, the journal refreshes the merchants) go
// through `actions`, filled in here.

import { $, enc, leadHash, show } from './dashboard-dom.js';
import { actions, state } from './dashboard-state.js';
import { TOKEN_KEY, lostContact, submitToken } from './dashboard-api.js';
import { journalLoop, renderJournal, wakeJournal } from './dashboard-journal.js';
import { renderLeads } from './dashboard-leads.js';
import { startEngage } from './dashboard-engage.js';
import { loadMerchants, refreshMerchants, regainedContact } from './dashboard-live.js';
import { go, route } from './dashboard-route.js';

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
  $('tab-audiences').addEventListener('click', () =>
    go('#/m/' + enc(state.merchant) + '/audiences'),
  );
  $('tab-plan').addEventListener('click', () => go('#/m/' + enc(state.merchant) + '/plan'));
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
  actions.go = go;
  actions.refreshMerchants = refreshMerchants;
  actions.regainedContact = regainedContact;
  bind();
  show($('forget-token'), sessionStorage.getItem(TOKEN_KEY) !== null);
  try {
    await loadMerchants();
  } catch (err) {
    lostContact(err);
  }
  route();
  journalLoop();
  startEngage();
}

start();
