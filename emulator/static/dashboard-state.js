// The dashboard's settings and the one state object every module reads and updates.

const LONG_POLL_SECONDS = 25; // halved while the emulator's --max-wait is lower
export const JOURNAL_EVERY_MS = 2000; // rejected calls make no event, so the journal is polled
export const MAX_LEAD_ROWS = 500;
export const FEED_SIZE = 200;
export const JOURNAL_KEEP = 1000;
export const TIMELINE_MAX = 300;

export const state = {
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
