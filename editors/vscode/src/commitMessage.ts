// What `focal.summarizeDiff` answers, and how its message goes into the commit input box.
// No `vscode` import: unit-tested under plain node.

import { Origin, originSummary } from './origin';

export const SUMMARIZE_COMMAND = 'focal.summarizeDiff';

export interface DiffSummary {
  message: string;
  origin?: Origin;
}

/** The arguments of `focal.summarizeDiff` for a repository root. */
export function summarizeArguments(root: string, staged = true): [{ root: string; staged: boolean }] {
  return [{ root, staged }];
}

/**
 * Validates the server's answer; throws an Error a user can act on when it is not a
 * summary (an old server, an empty diff).
 */
export function parseSummary(result: unknown): DiffSummary {
  if (result === null || result === undefined) {
    throw new Error('Focal: no summary (are there staged changes?). Stage some changes and try again.');
  }
  const error = (result as { error?: unknown }).error;
  if (typeof error === 'string' && error) {
    // The server explains why it wrote nothing (no staged changes, no model, ...).
    throw new Error(`Focal: ${error.replace(/\.$/, '')}.`);
  }
  if (typeof result !== 'object' || typeof (result as { message?: unknown }).message !== 'string') {
    throw new Error('Focal: the server answered focal.summarizeDiff with something that is not a summary.');
  }
  const r = result as { message: string; origin?: Origin };
  const message = cleanMessage(r.message);
  if (!message) {
    throw new Error('Focal: the model returned an empty summary; nothing was changed.');
  }
  return { message, origin: r.origin };
}

/**
 * A commit message as git wants it: no surrounding code fence or quotes, no trailing
 * spaces, the subject line first, a blank line before the body.
 */
export function cleanMessage(message: string): string {
  let text = message.replace(/\r\n/g, '\n').trim();
  const fence = /^```[^\n]*\n([\s\S]*?)\n?```$/.exec(text);
  if (fence) {
    text = fence[1].trim();
  }
  if (/^(["'`]).*\1$/s.test(text) && !text.slice(1, -1).includes(text[0])) {
    text = text.slice(1, -1).trim();
  }
  const lines = text.split('\n').map((l) => l.replace(/\s+$/, ''));
  if (lines.length > 1 && lines[1] !== '') {
    lines.splice(1, 0, '');
  }
  return lines.join('\n');
}

/**
 * The input box's new text: the summary alone when the box is empty, otherwise what the
 * user already wrote stays first and the summary follows it, so nothing typed is lost.
 */
export function mergeIntoInputBox(current: string, message: string): string {
  const existing = current.replace(/\s+$/, '');
  if (!existing.trim()) {
    return message;
  }
  if (existing.includes(message)) {
    return current;
  }
  return `${existing}\n\n${message}`;
}

/** The notification after the box was filled: which model wrote the message. */
export function summaryNotice(summary: DiffSummary): string {
  return summary.origin
    ? `Focal: commit message by ${originSummary(summary.origin)}`
    : 'Focal: commit message written.';
}

/** Whether the running server offers the command (it advertises its commands). */
export function serverOffers(commands: readonly string[] | undefined, command: string): boolean {
  return (commands ?? []).includes(command);
}
