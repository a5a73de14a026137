// The dashboard's settings, the one state object every module reads and updates, and the
// cross-view actions.

const LONG_POLL_SECONDS = 25; // halved while the emulator's --max-wait is lower
export const MAX_LEAD_ROWS = 500;
export const FEED_SIZE = 200;
export const JOURNAL_KEEP = 1000;
export const TIMELINE_MAX = 300;

export const state = {
  merchants: [],
  merchant: null,
  leadId: null,
  view: 'welcome', // welcome | merchant | requests
  tab: 'leads', // leads | events | audiences
  leads: [],
  audiences: [], // the merchant's computed audiences
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

// Actions a module calls on a module above it (journal < leads < live < route), which it may not
// import: the entry module fills them in once at start, before anything runs.
export const actions = {
  go: null, // route: show the view at a hash
  refreshMerchants: null, // live: reload the merchants list soon
  regainedContact: null, // live: the emulator answered again
};
