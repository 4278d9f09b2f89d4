// The service list: one card per service with a row per instance. Every string from the
// registry goes in through textContent, never as markup.
import { stateOf } from './model.js';

/** Renders `services` (from servicesOf) as a list of cards. */
export function drawServices(services) {
  if (services.length === 0) return el('p', { class: 'empty' }, 'No service is registered yet.');
  return el('div', { class: 'services' }, ...services.map(card));
}

function card(service) {
  return el(
    'section',
    { class: 'service', 'data-service': service.name, 'data-state': stateOf(service), 'data-broken': String(service.missing.length > 0) },
    el('h3', {}, el('span', { class: 'name' }, service.name), el('span', { class: 'counts' }, counts(service))),
    relations(service),
    service.missing.length > 0 ? el('p', { class: 'missing' }, `No passing instance of ${service.missing.join(', ')}: this service is cut off from it.`) : null,
    service.instances.length > 0 ? instanceTable(service.instances) : el('p', { class: 'empty' }, 'No instance: required, but not registered.'),
  );
}

function counts(service) {
  return `${service.passing} passing · ${service.critical} critical`;
}

function relations(service) {
  const requires = service.requires.length > 0 ? service.requires.join(', ') : '—';
  const requiredBy = service.requiredBy.length > 0 ? service.requiredBy.join(', ') : '—';
  return el('p', { class: 'relations' }, `requires ${requires} · required by ${requiredBy}`);
}

function instanceTable(instances) {
  const head = el('tr', {}, ...['instance', 'health', 'last probe', 'latency', 'version', 'tags', 'via'].map((label) => el('th', {}, label)));
  return el('table', {}, el('thead', {}, head), el('tbody', {}, ...instances.map(instanceRow)));
}

function instanceRow(instance) {
  return el(
    'tr',
    { class: 'instance', 'data-id': instance.id, 'data-url': instance.url, 'data-health': instance.health },
    el('td', { class: 'url' }, instance.url),
    el('td', {}, health(instance)),
    el('td', { class: 'probe-time' }, instance.lastCheckAt ? time(instance.lastCheckAt) : instance.heartbeatUrl ? 'not yet' : 'TTL'),
    el('td', { class: 'latency' }, instance.lastCheckMs === null ? '—' : `${instance.lastCheckMs} ms`),
    el('td', { class: 'version' }, text(instance.metadata.version) ?? '—'),
    el('td', { class: 'tags' }, ...tags(instance.metadata.tags)),
    el('td', { class: 'protocol' }, instance.protocol),
  );
}

function health(instance) {
  const badge = el('span', { class: `health ${instance.health}` }, instance.health);
  if (instance.health !== 'critical') return badge;
  const since = instance.criticalSince ? ` since ${time(instance.criticalSince)}` : '';
  return el('span', {}, badge, el('span', { class: 'error' }, `${since}${instance.lastError ? `: ${instance.lastError}` : ''}`));
}

function tags(value) {
  return Array.isArray(value) ? value.map((tag) => el('span', { class: 'tag' }, String(tag))) : ['—'];
}

function text(value) {
  return value === undefined || value === null ? undefined : String(value);
}

function time(iso) {
  return new Date(iso).toLocaleTimeString();
}

/** A DOM element with attributes and children; strings become text nodes, null is skipped. */
export function el(name, attributes, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children.filter((child) => child !== null));
  return node;
}
