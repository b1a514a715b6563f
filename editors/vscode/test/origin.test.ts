import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FocalStatus, Origin, originMarkdown, originSummary, statusBarView } from '../src/origin';

const origin: Origin = {
  modelName: 'Smollm2 135M',
  modelDigest: 'b179c952aa0011',
  quantization: 'Q4_1',
  architecture: 'llama',
  engine: 'llama.cpp (llama-cpp-python 0.3.36)',
  device: 'cpu',
  template: 'prefix-only',
  timing: { queueMs: 1, prefillMs: 187.4, decodeMs: 283, totalMs: 470.2, tokensGenerated: 29 },
  confidence: 0.6712,
  stopReason: 'end of block',
  context: [{ path: 'stats.py', startLine: 0, endLine: 2, reason: 'definition of `mean`' }],
  route: 'default',
};

const ready: FocalStatus = {
  state: 'ready',
  model: { name: 'Smollm2 135M', quantization: 'Q4_1', device: 'cpu', digest: 'b179c952aa0011' },
  lastSuggestion: null,
};

test('ready, no suggestion yet: the active model', () => {
  const v = statusBarView(ready);
  assert.equal(v.text, '$(sparkle) Smollm2 135M Q4_1');
  assert.match(v.tooltip, /Smollm2 135M Q4_1 on cpu · `sha256:b179c952`/);
  assert.match(v.tooltip, /No suggestion yet/);
  assert.equal(v.error, false);
});

test('after a suggestion: its time in the bar and its full origin in the tooltip', () => {
  const v = statusBarView({ ...ready, lastSuggestion: { id: 's-1', origin } });
  assert.equal(v.text, '$(sparkle) Smollm2 135M Q4_1 · 470 ms');
  assert.match(v.tooltip, /engine: llama\.cpp \(llama-cpp-python 0\.3\.36\) on cpu/);
  assert.match(v.tooltip, /confidence: 0\.67 · stopped: end of block/);
  assert.match(v.tooltip, /context `stats\.py:1-3` — definition of `mean`/);
  assert.match(v.tooltip, /suggestion `s-1`/);
});

test('a suggestion from another model than the active one is named', () => {
  const v = statusBarView({ ...ready, lastSuggestion: { id: 's', origin: { ...origin, quantization: 'Q8_0' } } });
  assert.equal(v.text, '$(sparkle) Smollm2 135M Q4_1 · last: Smollm2 135M Q8_0');
});

test('loading and error states', () => {
  assert.match(statusBarView({ state: 'loading' }).text, /loading model/);
  const err = statusBarView({ state: 'error', error: 'No model: set focal.model.path' });
  assert.equal(err.error, true);
  assert.match(err.tooltip, /set focal\.model\.path/);
  const down = statusBarView(undefined, 'Focal: the `focal` command was not found');
  assert.equal(down.text, '$(error) Focal');
  assert.equal(down.error, true);
});

test('one-line origin summary', () => {
  assert.equal(
    originSummary(origin),
    'Smollm2 135M Q4_1 · sha256:b179c952 · llama.cpp (llama-cpp-python 0.3.36) on cpu · 470 ms · confidence 0.67',
  );
});

test('markdown survives a minimal origin', () => {
  const md = originMarkdown({ modelName: 'M', modelDigest: 'abc', quantization: 'F16', engine: 'e', device: 'cuda:0' });
  assert.match(md, /\*\*M\*\* · F16 · `sha256:abc`/);
  assert.match(md, /engine: e on cuda:0/);
});
