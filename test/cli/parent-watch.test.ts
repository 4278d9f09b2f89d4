// A part started by `roster up` stops when the pipe on its stdin closes (`roster up` is gone,
// however it went); a part started by hand does not watch its stdin at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PARENT_WATCH_ENV, stopWithParent } from '../../src/cli/parent-watch.js';

class FakeInput extends EventEmitter {
  resumed = false;
  unrefed = false;
  resume(): this {
    this.resumed = true;
    return this;
  }
  unref(): this {
    this.unrefed = true;
    return this;
  }
}

test('with the variable set, the end of stdin hangs the part up once, and stdin keeps nothing alive', () => {
  const input = new FakeInput();
  let hangUps = 0;
  stopWithParent({ [PARENT_WATCH_ENV]: 'stdin' }, input, () => void hangUps++);
  assert.ok(input.resumed, 'stdin is read, or its end would never be seen');
  assert.ok(input.unrefed);
  assert.equal(hangUps, 0);
  input.emit('end');
  input.emit('close');
  assert.equal(hangUps, 1);
});

test('a broken pipe counts as the parent gone too', () => {
  const input = new FakeInput();
  let hangUps = 0;
  stopWithParent({ [PARENT_WATCH_ENV]: 'stdin' }, input, () => void hangUps++);
  input.emit('error', new Error('EPIPE'));
  assert.equal(hangUps, 1);
});

test('without the variable, stdin is left alone', () => {
  const input = new FakeInput();
  let hangUps = 0;
  stopWithParent({}, input, () => void hangUps++);
  input.emit('end');
  assert.equal(input.resumed, false);
  assert.equal(input.listenerCount('end'), 0);
  assert.equal(hangUps, 0);
});
