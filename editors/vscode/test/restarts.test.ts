import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialRuns, debounce } from '../src/restarts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('restarts never overlap, and a burst while one runs becomes one more run', async () => {
  const runs = new SerialRuns();
  let active = 0;
  let most = 0;
  const seen: string[] = [];
  let setting = '';
  const restart = async () => {
    active += 1;
    most = Math.max(most, active);
    const value = setting; // read when the run starts, as createClient() does
    await tick(20);
    seen.push(value);
    active -= 1;
  };
  setting = '/a/focal';
  const first = runs.run(restart);
  await tick(5); // the first run is under way
  // The settings editor writes on every keystroke: '', '/b', '/b/focal'.
  const later = ['', '/b', '/b/focal'].map((v) => {
    setting = v;
    return runs.run(restart);
  });
  assert.equal(later[0], later[2], 'the requests made meanwhile share one run');
  await Promise.all([first, ...later]);
  assert.equal(most, 1, 'two restarts ran at once');
  assert.deepEqual(seen, ['/a/focal', '/b/focal'], 'the last run reads the final value');
});

test('a failing run is reported and does not stop the next', async () => {
  const errors: unknown[] = [];
  const runs = new SerialRuns((e) => errors.push(e));
  await runs.run(async () => {
    throw new Error('boom');
  });
  let ran = false;
  await runs.run(async () => {
    ran = true;
  });
  assert.equal(ran, true);
  assert.equal(String(errors[0]), 'Error: boom');
});

test('debounce: one call after the burst', async () => {
  let calls = 0;
  const d = debounce(() => (calls += 1), 15);
  d();
  d();
  await tick(5);
  d();
  await tick(40);
  assert.equal(calls, 1);
});
