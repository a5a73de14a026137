// DOM building with text only: every value from the API becomes a text node or an attribute.

export const $ = (id) => document.getElementById(id);
export const enc = encodeURIComponent;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function el(tag, props, ...children) {
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

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

export function plural(n, noun) {
  return n.toLocaleString() + ' ' + noun + (n === 1 ? '' : 's');
}

export function pretty(value) {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  const flat = JSON.stringify(value);
  return flat.length <= 60 ? flat : JSON.stringify(value, null, 2);
}

export function valueNode(value) {
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

export function timeNode(iso) {
  return el('time', { datetime: iso, title: iso, text: when(iso) });
}

export function leadHash(merchant, leadId) {
  return '#/m/' + enc(merchant) + '/lead/' + enc(leadId);
}

export function leadName(lead) {
  const a = lead.attributes || {};
  const str = (v) => (typeof v === 'string' && v.trim() ? v.trim() : '');
  const full = [str(a.first_name), str(a.last_name)].filter(Boolean).join(' ');
  return str(a.name) || full || str(a.email) || lead.id;
}

export function eventTitle(e) {
  if (e.type === 'track') return e.event;
  if (e.type === 'page') {
    const p = e.properties || {};
    return 'Page ' + (typeof p.path === 'string' ? p.path : typeof p.url === 'string' ? p.url : '');
  }
  return 'Identify';
}
