// The tracking plan: violations as events and journal entries show them, and the Plan tab's
// coverage of the selected merchant since its last reset.

import { $, clear, el, enc, plural, show } from './dashboard-dom.js';
import { state } from './dashboard-state.js';
import { call, coalesce } from './dashboard-api.js';

// -- violations, wherever a call is shown ------------------------------------------

// A badge for an event's verdict: nothing when no plan checked it, a tick when it conforms.
export function verdictNode(violations) {
  if (violations === null || violations === undefined) return null;
  if (violations.length === 0) {
    return el('span', {
      class: 'badge ok verdict',
      title: 'conforms to the tracking plan',
      text: 'plan ✓',
    });
  }
  return el('span', {
    class: 'badge bad verdict',
    title: violations.map((v) => v.kind + ' ' + v.field + ': ' + v.message).join('\n'),
    text: plural(violations.length, 'violation'),
  });
}

// One line per violation: its kind, the field, and jsonschema's account of it.
export function violationList(violations) {
  if (!violations || violations.length === 0) return null;
  return el(
    'ul',
    { class: 'violations' },
    violations.map((v) =>
      el(
        'li',
        null,
        el('code', { class: 'v-kind', text: v.kind }),
        ' ',
        el('span', { class: 'mono', text: v.field }),
        ': ',
        el('span', { text: v.message }),
      ),
    ),
  );
}

// A journal entry's calls that broke the plan: which call, whether the plan blocked it, why.
export function journalViolations(entry) {
  return (entry.violations || []).map((call) => {
    const what = call.type === 'track' ? 'track ' + JSON.stringify(call.event) : call.type;
    const head = (call.blocked ? 'blocked by the plan: ' : 'breaks the plan: ') + what;
    const where = entry.surface === 'tracker' ? '' : ' (message ' + call.index + ')';
    return el(
      'span',
      { class: 'reason plan' + (call.blocked ? ' blocked' : '') },
      el('span', { text: head + where }),
      violationList(call.violations),
    );
  });
}

// -- the Plan tab ---------------------------------------------------------------------

function chips(names, kind) {
  if (names.length === 0) return el('span', { class: 'muted', text: 'none' });
  return names.map((n) => el('span', { class: 'chip small ' + kind, text: n }));
}

function renderReport(report) {
  const planned = report.planned_seen.length + report.planned_unseen.length;
  $('plan-title').textContent =
    (report.plan === null ? 'Unnamed plan' : report.plan) +
    ' · ' +
    report.planned_seen.length +
    ' of ' +
    planned +
    ' planned events seen since the last reset';
  clear($('plan-seen')).append(...[chips(report.planned_seen, 'in')].flat());
  clear($('plan-unseen')).append(...[chips(report.planned_unseen, 'warn')].flat());
  clear($('plan-unplanned')).append(...[chips(report.unplanned_seen, 'bad')].flat());
  const rows = clear($('plan-violations').tBodies[0]);
  for (const v of report.violations) {
    rows.append(
      el(
        'tr',
        null,
        el('td', { text: v.event }),
        el('td', null, el('code', { class: 'v-kind', text: v.kind })),
        el('td', { class: 'mono', text: v.field }),
        el('td', { class: 'num', text: v.count }),
      ),
    );
  }
  show($('plan-violations'), report.violations.length > 0);
  show($('plan-clean'), report.violations.length === 0);
}

async function loadPlan() {
  const merchant = state.merchant;
  if (merchant === null || state.tab !== 'plan') return;
  let report = null;
  try {
    report = await call('/merchants/' + enc(merchant) + '/tracking-plan/report');
  } catch (err) {
    if (err.code !== 'tracking_plan_not_found') throw err;
  }
  if (merchant !== state.merchant) return;
  show($('plan-none'), report === null);
  show($('plan-report'), report !== null);
  if (report !== null) renderReport(report);
}
export const refreshPlan = coalesce(loadPlan, 500);
