// No default port of Roster's may be one that fetch() and browsers refuse: the Fetch standard's
// "bad ports" (https://fetch.spec.whatwg.org/#port-blocking). The course's grading used 6000,
// which is on the list, and `fetch(client.provider('GradingService'))` failed with "bad port".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { DEFAULT_START_OPTIONS } from '../src/registry/options.js';
import { DEMO_SERVICES } from '../src/services/names.js';

const BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111,
  113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548,
  554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665,
  6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

const root = new URL('../', import.meta.url);

/** `port: Number(process.env.PORT ?? 7001)` and the like: the port each example falls back to. */
function examplePorts(): Record<string, number> {
  const folder = new URL('examples/', root);
  const ports: Record<string, number> = {};
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.mjs'))) {
    const source = readFileSync(new URL(file, folder), 'utf8');
    for (const [index, match] of [...source.matchAll(/\bport:[^,\n]*?\b(\d{2,5})\b/g)].entries()) ports[`examples/${file} #${index + 1}`] = Number(match[1]);
  }
  return ports;
}

function defaultPorts(): Record<string, number> {
  const ports: Record<string, number> = { registry: DEFAULT_START_OPTIONS.port };
  for (const service of Object.values(DEMO_SERVICES)) ports[service.part] = service.port;
  return { ...ports, ...examplePorts() };
}

test('the list of bad ports is the Fetch standard\'s (spot checks)', () => {
  assert.equal(BAD_PORTS.size, 82);
  for (const port of [6000, 6665, 6669, 10080]) assert.ok(BAD_PORTS.has(port), String(port));
});

test('the registry, the demo services and the examples all have a default port', () => {
  const ports = defaultPorts();
  for (const part of ['registry', 'log', 'grading', 'portal']) assert.ok(Number.isInteger(ports[part]), part);
  assert.ok(Object.keys(ports).some((name) => name.startsWith('examples/')), 'the examples\' ports were found');
});

test('no default port is one that fetch() and browsers refuse', () => {
  const refused = Object.entries(defaultPorts()).filter(([, port]) => BAD_PORTS.has(port));
  assert.deepEqual(refused, [], 'a default port on the Fetch standard\'s bad-ports list');
});

test('no localhost URL in the README or docs uses a port that fetch() refuses', () => {
  const files = ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const refused: string[] = [];
  for (const file of files) {
    const text = readFileSync(new URL(file, root), 'utf8');
    for (const match of text.matchAll(/\bhttps?:\/\/(?:localhost|127\.0\.0\.1):(\d+)/g)) if (BAD_PORTS.has(Number(match[1]))) refused.push(`${file}: ${match[0]}`);
  }
  assert.deepEqual(refused, []);
});
