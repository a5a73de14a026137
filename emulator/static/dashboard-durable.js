// Where the emulator keeps its state, from health's durable field: a data file that survives a
// restart or a crash (--data-file), or memory alone.

import { $, show } from './dashboard-dom.js';

export function renderDurable(health) {
  const pill = $('durable');
  const durable = health.durable;
  if (durable) {
    pill.textContent = 'durable · ' + durable.sync;
    pill.title =
      'State kept in ' +
      durable.path +
      ' (--data-sync ' +
      durable.sync +
      '): every call answered is in the file, and a restart starts from it.';
    pill.dataset.durable = 'true';
  } else {
    pill.textContent = 'in memory';
    pill.title = 'State lives in memory only; start with --data-file PATH to keep it.';
    pill.dataset.durable = 'false';
  }
  show(pill, true);
}
