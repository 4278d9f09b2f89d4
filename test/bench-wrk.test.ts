// The lookups scenario reads its figures from wrk's summary; a misread would put a wrong
// number in bench/RESULTS.md without anything failing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWrkOutput, wrkArgs } from '../bench/lib/wrk.js';

// Printed by wrk 4.1.0 (Debian 12) with -t1 -c8 -d1s --latency.
const SUCCESS = `Running 1s test @ http://127.0.0.1:18080/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   700.51us    1.51ms  24.41ms   92.65%
    Req/Sec    22.57k    10.11k   32.67k    72.73%
  Latency Distribution
     50%  279.00us
     75%  499.00us
     90%    1.70ms
     99%    6.74ms
  24677 requests in 1.10s, 2.92MB read
Requests/sec:  22425.09
Transfer/sec:      2.65MB
`;

test('wrk: rate, percentiles, mean and max in milliseconds', () => {
  const result = parseWrkOutput(SUCCESS);
  assert.equal(result.count, 24_677);
  assert.equal(result.errors, 0);
  assert.equal(result.firstError, null);
  assert.equal(result.elapsedMs, 1100);
  assert.equal(Math.round(result.perSecond), 22_434);
  assert.equal(result.latency.p50, 0.279);
  assert.equal(result.latency.p99, 6.74);
  assert.equal(result.latency.max, 24.41);
  assert.ok(Math.abs(result.latency.mean - 0.70051) < 1e-9);
});

test('wrk: non-2xx answers and socket errors are not counted as lookups', () => {
  const output = SUCCESS.replace(
    'Requests/sec:',
    '  Socket errors: connect 0, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 677\nRequests/sec:',
  );
  const result = parseWrkOutput(output);
  assert.equal(result.count, 24_000);
  assert.equal(result.errors, 682);
  assert.equal(result.firstError, '677 non-2xx answers, 5 socket errors');
});

test('wrk: output without a summary is an error that shows the output', () => {
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /unexpected wrk output:\nunable to connect/);
});

test('wrk: the registry token goes with every request as a -H header', () => {
  const args = wrkArgs('http://127.0.0.1:3000/v1/services/Lookup', { connections: 64, durationMs: 3000, headers: { authorization: 'Bearer s3cret' } });
  assert.deepEqual(args, ['-t1', '-c64', '-d3s', '--latency', '--timeout', '10s', '-H', 'authorization: Bearer s3cret', 'http://127.0.0.1:3000/v1/services/Lookup']);
});
