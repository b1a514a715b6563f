import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cleanMessage,
  mergeIntoInputBox,
  parseSummary,
  serverOffers,
  summarizeArguments,
  summaryNotice,
} from '../src/commitMessage';

test('arguments of focal.summarizeDiff', () => {
  assert.deepEqual(summarizeArguments('/work/repo'), [{ root: '/work/repo', staged: true }]);
});

test('a summary is validated and cleaned', () => {
  const s = parseSummary({ message: '```\nAdd variance()\nCompute the population variance.\n```\n', origin: undefined });
  assert.equal(s.message, 'Add variance()\n\nCompute the population variance.');
});

test('answers that are not a summary give an actionable error', () => {
  assert.throws(() => parseSummary(null), /staged changes/);
  assert.throws(() => parseSummary({ text: 'x' }), /not a summary/);
  assert.throws(() => parseSummary({ message: '   ' }), /empty summary/);
  assert.throws(() => parseSummary({ error: 'nothing is staged' }), /^Error: Focal: nothing is staged\.$/);
});

test('cleanMessage: quotes, CRLF, trailing spaces, blank line after the subject', () => {
  assert.equal(cleanMessage('"Fix parser"'), 'Fix parser');
  assert.equal(cleanMessage('Fix parser  \r\n\r\nDetails  '), 'Fix parser\n\nDetails');
  assert.equal(cleanMessage('Subject\nbody line'), 'Subject\n\nbody line');
  assert.equal(cleanMessage('Use "quotes" inside'), 'Use "quotes" inside');
});

test('the input box keeps what the user typed', () => {
  assert.equal(mergeIntoInputBox('', 'Add variance()'), 'Add variance()');
  assert.equal(mergeIntoInputBox('  \n', 'Add variance()'), 'Add variance()');
  assert.equal(mergeIntoInputBox('WIP: stats\n', 'Add variance()'), 'WIP: stats\n\nAdd variance()');
  assert.equal(mergeIntoInputBox('Add variance()', 'Add variance()'), 'Add variance()');
});

test('the notice names the model', () => {
  const notice = summaryNotice({
    message: 'm',
    origin: { modelName: 'Qwen', modelDigest: '0123456789', quantization: 'Q8_0', engine: 'llama.cpp', device: 'cpu' },
  });
  assert.equal(notice, 'Focal: commit message by Qwen Q8_0 · sha256:01234567 · llama.cpp on cpu');
  assert.equal(summaryNotice({ message: 'm' }), 'Focal: commit message written.');
});

test('the command is used only when the server advertises it', () => {
  assert.equal(serverOffers(['focal.accepted', 'focal.summarizeDiff'], 'focal.summarizeDiff'), true);
  assert.equal(serverOffers(['focal.accepted'], 'focal.summarizeDiff'), false);
  assert.equal(serverOffers(undefined, 'focal.summarizeDiff'), false);
});
