// The dependency graph as SVG: services as nodes in columns by depth (dependents on the left),
// "requires" as arrows to the right; each node links to its service's page. Every string goes
// in through textContent.
import { depths, stateOf } from './model.js';

const SVG = 'http://www.w3.org/2000/svg';
const NODE = { width: 220, height: 64 };
const GAP = { column: 90, row: 28 };
const MARGIN = 16;
/** Narrowest the picture is drawn, in CSS pixels: its text stays at least 10 px. */
const MIN_WIDTH = 440;

/** Draws `services` (from servicesOf) as a new <svg>; the node named `focus` is highlighted. */
export function drawGraph(services, focus) {
  const positions = layout(services);
  const byName = new Map(services.map((s) => [s.name, s]));
  const edges = services.flatMap((from) => from.requires.map((name) => ({ from, to: byName.get(name) })));
  const ports = assignPorts(edges, positions);
  const lanes = [];
  const paths = edges.map((e) => edge(e, positions, ports, lanes));
  const size = extent(positions, lanes);
  const svg = element('svg', { class: 'graph', viewBox: `0 0 ${size.width} ${size.height}`, width: size.width, height: size.height, role: 'img' });
  // Shrinks to fit a narrow window, but not below legible: past that its box scrolls sideways.
  // (Set through the CSSOM: the page's policy refuses style attributes.)
  svg.style.minWidth = `${Math.min(size.width, MIN_WIDTH)}px`;
  svg.append(element('title', {}, 'Dependency graph: an arrow points from a service to one it requires'), markers(), ...paths);
  for (const service of services) svg.append(node(service, positions.get(service.name), service.name === focus));
  return svg;
}

/**
 * Top-left corner and column of every node: one column per depth, deepest (no requirements)
 * rightmost. Within a column, nodes sit near the services that require them, so that arrows
 * cross less.
 */
function layout(services) {
  const depth = depths(services);
  const deepest = Math.max(0, ...depth.values());
  const columns = Array.from({ length: deepest + 1 }, () => []);
  for (const service of services) columns[deepest - depth.get(service.name)].push(service);
  const row = new Map();
  const positions = new Map();
  columns.forEach((column, c) => {
    const pull = (s) => mean(s.requiredBy.filter((name) => row.has(name)).map((name) => row.get(name)));
    column.sort((a, b) => pull(a) - pull(b));
    column.forEach((service, r) => {
      row.set(service.name, r);
      positions.set(service.name, { column: c, x: MARGIN + c * (NODE.width + GAP.column), y: MARGIN + r * (NODE.height + GAP.row) });
    });
  });
  return positions;
}

/** Infinity for no values: a node that nothing to its left requires goes last (stable sort: by name). */
function mean(values) {
  return values.length === 0 ? Infinity : values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Where each arrow leaves and enters a node: spread over its side, in the order of the other ends. */
function assignPorts(edges, positions) {
  const y = (service) => positions.get(service.name).y;
  const out = new Map();
  const into = new Map();
  for (const list of groupBy(edges, (e) => e.from.name).values()) spread(list.sort((p, q) => y(p.to) - y(q.to)), out);
  for (const list of groupBy(edges, (e) => e.to.name).values()) spread(list.sort((p, q) => y(p.from) - y(q.from)), into);
  return { out, into };
}

/** Offsets from the top of a node, evenly spaced, one per edge. */
function spread(edges, offsets) {
  edges.forEach((e, i) => offsets.set(e, ((i + 1) * NODE.height) / (edges.length + 1)));
}

function groupBy(list, key) {
  const groups = new Map();
  for (const item of list) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function extent(positions, lanes) {
  const points = [...positions.values()];
  const right = Math.max(0, ...points.map((p) => p.x + NODE.width));
  const bottom = Math.max(0, ...points.map((p) => p.y + NODE.height), ...lanes);
  return { width: right + MARGIN, height: bottom + MARGIN };
}

function node(service, at, focused) {
  const broken = service.missing.length > 0;
  const group = element('g', { class: 'node', 'data-service': service.name, 'data-state': stateOf(service), 'data-broken': String(broken), 'data-focus': String(focused), transform: `translate(${at.x} ${at.y})` });
  group.append(element('title', {}, tooltip(service)));
  group.append(element('rect', { class: 'box', width: NODE.width, height: NODE.height, rx: 8 }));
  group.append(element('text', { class: 'name', x: 12, y: 22 }, clip(service.name, 26)));
  group.append(element('text', { class: 'counts', x: 12, y: 40 }, counts(service)));
  if (broken) group.append(element('text', { class: 'warning', x: 12, y: 56 }, clip(`needs ${service.missing.join(', ')}`, 32)));
  service.instances.forEach((instance, i) => group.append(instanceDot(instance, i)));
  const link = element('a', { href: `#/service/${encodeURIComponent(service.name)}`, class: 'node-link' });
  link.append(group);
  return link;
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

function edge(e, positions, ports, lanes) {
  const { from, to } = e;
  const a = positions.get(from.name);
  const b = positions.get(to.name);
  const start = { x: a.x + NODE.width, y: a.y + ports.out.get(e) };
  const end = { x: b.x - 2, y: b.y + ports.into.get(e) };
  const d = b.column - a.column === 1 ? curve(start, end) : detour(start, end, a, b, positions, lanes);
  const broken = to.passing === 0;
  const path = element('path', { class: `edge${broken ? ' broken' : ''}`, d, 'data-from': from.name, 'data-to': to.name, 'marker-end': broken ? 'url(#arrow-broken)' : 'url(#arrow)' });
  path.append(element('title', {}, `${from.name} requires ${to.name}`));
  return path;
}

function curve(start, end) {
  const bend = Math.max(30, Math.abs(end.x - start.x) / 2);
  return `M ${start.x} ${start.y} C ${start.x + bend} ${start.y}, ${end.x - bend} ${end.y}, ${end.x} ${end.y}`;
}

/**
 * An arrow that skips columns (or points back, in a cycle) runs below the nodes in between, so
 * that it never hides behind one. Its lane is pushed into `lanes` to size the picture.
 */
function detour(start, end, a, b, positions, lanes) {
  const [left, right] = [Math.min(a.column, b.column), Math.max(a.column, b.column)];
  const between = [...positions.values()].filter((p) => p.column >= left && p.column <= right);
  const lane = Math.max(...between.map((p) => p.y + NODE.height)) + GAP.row / 2 + lanes.length * 8;
  lanes.push(lane + GAP.row / 2);
  const leave = { x: start.x + GAP.column / 2, y: lane };
  const reach = { x: end.x - GAP.column / 2, y: lane };
  return `${curve(start, leave)} L ${reach.x} ${reach.y} ${curve(reach, end).replace(/^M [^C]+/, '')}`;
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
