import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  SERVER_SETTINGS,
  configurationChangeAction,
  initializationOptions,
  toServerSettings,
} from '../src/settings';

test('client-only keys never reach the server (it rejects unknown keys)', () => {
  const raw = {
    server: { path: '/usr/bin/focal', pythonPath: '' },
    trace: { server: 'verbose' },
    model: { path: '/m/model.gguf', gpuLayers: 0, contextLength: 8192, threads: null, fimOrder: 'auto', flashAttn: false },
    completion: { timeBudgetMs: 800 },
    privacy: { allowRemote: false },
  };
  assert.deepEqual(toServerSettings(raw), {
    model: { path: '/m/model.gguf', gpuLayers: 0, contextLength: 8192, threads: null, fimOrder: 'auto', flashAttn: false },
    completion: { timeBudgetMs: 800 },
    privacy: { allowRemote: false },
  });
});

test('an empty model path means the default model; ~ is expanded', () => {
  assert.deepEqual(toServerSettings({ model: { path: '' } }), { model: { path: null } });
  assert.deepEqual(toServerSettings({ model: { path: '~/models/q.gguf' } }, { HOME: '/home/u' }), {
    model: { path: '/home/u/models/q.gguf' },
  });
});

test('dotted keys (as in settings.json) become the nested tree', () => {
  assert.deepEqual(
    toServerSettings({ 'model.gpuLayers': 12, 'completion.timeBudgetMs': 500, 'server.path': '/x' }),
    { model: { gpuLayers: 12 }, completion: { timeBudgetMs: 500 } },
  );
});

test('initializationOptions wrap the tree in `focal`', () => {
  assert.deepEqual(initializationOptions({ index: { enabled: false } }), { focal: { index: { enabled: false } } });
  assert.deepEqual(initializationOptions(undefined), { focal: {} });
});

test('a wrong value is passed on unchanged, so the server names it to the user', () => {
  assert.deepEqual(toServerSettings({ model: { gpuLayers: 'all' } }), { model: { gpuLayers: 'all' } });
});

test('server settings changes are pushed; focal.server changes restart the server', () => {
  const affects = (...changed: string[]) => (s: string) => changed.some((c) => c === s || c.startsWith(s + '.'));
  assert.equal(configurationChangeAction(affects('focal.server.path')), 'restart');
  assert.equal(configurationChangeAction(affects('focal.model.gpuLayers')), 'push');
  assert.equal(configurationChangeAction(affects('focal.completion.timeBudgetMs')), 'push');
  assert.equal(configurationChangeAction(affects('editor.fontSize')), 'none');
});

test('package.json contributes exactly the server settings, plus the client-only ones', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const keys = Object.keys(pkg.contributes.configuration.properties).sort();
  const server = Object.entries(SERVER_SETTINGS)
    .flatMap(([section, fields]) => fields.map((f) => `focal.${section}.${f}`));
  const clientOnly = keys.filter((k) => k.startsWith('focal.server.') || k.startsWith('focal.trace.'));
  assert.deepEqual(keys, [...server, ...clientOnly].sort());
});
