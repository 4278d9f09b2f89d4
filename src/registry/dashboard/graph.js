// The dependency graph as SVG: services as nodes in columns by depth (dependents on the left),
// "requires" as arrows to the right. Every string goes in through textContent.
import { depths, stateOf } from './model.js';

const SVG = 'http://www.w3.org/2000/svg';
const NODE = { width: 200, height: 64 };
const GAP = { column: 90, row: 28 };
const MARGIN = 16;

/** Draws `services` (from servicesOf) as a new <svg>. */
export function drawGraph(services) {
  const positions = layout(services);
  const size = extent(positions);
  const svg = element('svg', { class: 'graph', viewBox: `0 0 ${size.width} ${size.height}`, width: size.width, height: size.height, role: 'img' });
  svg.append(element('title', {}, 'Dependency graph: an arrow points from a service to one it requires'), markers());
  const byName = new Map(services.map((s) => [s.name, s]));
  for (const service of services) {
    for (const required of service.requires) svg.append(edge(service, byName.get(required), positions));
  }
  for (const service of services) svg.append(node(service, positions.get(service.name)));
  return svg;
}

/** Top-left corner of every node: one column per depth, deepest (no requirements) rightmost. */
function layout(services) {
  const depth = depths(services);
  const deepest = Math.max(0, ...depth.values());
  const rows = new Map();
  const positions = new Map();
  for (const service of services) {
    const column = deepest - depth.get(service.name);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    positions.set(service.name, { x: MARGIN + column * (NODE.width + GAP.column), y: MARGIN + row * (NODE.height + GAP.row) });
  }
  return positions;
}

function extent(positions) {
  const points = [...positions.values()];
  const right = Math.max(0, ...points.map((p) => p.x + NODE.width));
  const bottom = Math.max(0, ...points.map((p) => p.y + NODE.height));
  return { width: right + MARGIN, height: bottom + MARGIN };
}

function node(service, at) {
  const broken = service.missing.length > 0;
  const group = element('g', { class: 'node', 'data-service': service.name, 'data-state': stateOf(service), 'data-broken': String(broken), transform: `translate(${at.x} ${at.y})` });
  group.append(element('title', {}, tooltip(service)));
  group.append(element('rect', { class: 'box', width: NODE.width, height: NODE.height, rx: 8 }));
  group.append(element('text', { class: 'name', x: 12, y: 22 }, clip(service.name, 24)));
  group.append(element('text', { class: 'counts', x: 12, y: 40 }, counts(service)));
  if (broken) group.append(element('text', { class: 'warning', x: 12, y: 56 }, clip(`needs ${service.missing.join(', ')}`, 30)));
  service.instances.forEach((instance, i) => group.append(instanceDot(instance, i)));
  return group;
}

/** One dot per instance, top right, so that a critical instance shows on the graph too. */
function instanceDot(instance, index) {
  const perRow = 6;
  const dot = element('circle', {
    class: `instance ${instance.health}`,
    'data-url': instance.url,
    r: 5,
    cx: NODE.width - 12 - (index % perRow) * 13,
    cy: 14 + Math.floor(index / perRow) * 13,
  });
  dot.append(element('title', {}, `${instance.url}: ${instance.health}`));
  return dot;
}

function edge(from, to, positions) {
  const a = positions.get(from.name);
  const b = positions.get(to.name);
  const start = { x: a.x + NODE.width, y: a.y + NODE.height / 2 };
  const end = { x: b.x - 2, y: b.y + NODE.height / 2 };
  // Arrows that go backwards (a cycle) still curve forwards out of the node and back in.
  const bend = Math.max(40, Math.abs(end.x - start.x) / 2);
  const d = `M ${start.x} ${start.y} C ${start.x + bend} ${start.y}, ${end.x - bend} ${end.y}, ${end.x} ${end.y}`;
  const broken = to.passing === 0;
  const path = element('path', { class: `edge${broken ? ' broken' : ''}`, d, 'data-from': from.name, 'data-to': to.name, 'marker-end': broken ? 'url(#arrow-broken)' : 'url(#arrow)' });
  path.append(element('title', {}, `${from.name} requires ${to.name}`));
  return path;
}

function markers() {
  const defs = element('defs');
  for (const [id, cls] of [['arrow', 'arrow'], ['arrow-broken', 'arrow broken']]) {
    const marker = element('marker', { id, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' });
    marker.append(element('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: cls }));
    defs.append(marker);
  }
  return defs;
}

function counts(service) {
  if (service.instances.length === 0) return 'no instance';
  const critical = service.critical > 0 ? ` · ${service.critical} critical` : '';
  return `${service.passing}/${service.instances.length} passing${critical}`;
}

function tooltip(service) {
  const lines = [service.name, counts(service)];
  if (service.requires.length > 0) lines.push(`requires ${service.requires.join(', ')}`);
  if (service.missing.length > 0) lines.push(`no passing instance of ${service.missing.join(', ')}`);
  return lines.join('\n');
}

function clip(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function element(name, attributes = {}, text) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}
