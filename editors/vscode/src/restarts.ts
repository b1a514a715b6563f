// Starting and stopping the server one at a time. No `vscode` import, so that it can be
// unit-tested under plain node.

/**
 * Runs jobs (a server restart) one after another, never two at once, and merges the
 * requests that arrive while one is waiting into that one run.
 *
 * Why: the settings editor writes `settings.json` on every keystroke, and each write is a
 * configuration change that restarts the server. Run side by side, those restarts read the
 * settings at different moments (an intermediate empty `focal.server.path` among them),
 * overwrite each other's client, leave a server running unowned, and whichever finished
 * last decided what the user saw: "`focal` was not found on PATH" while the setting was
 * set. Queued and merged, the last run starts after every earlier one ended and reads the
 * settings as they are when it starts.
 */
export class SerialRuns {
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  /** Run `job` after the runs before it; a request while another is queued joins it. */
  run(job: () => Promise<void>): Promise<void> {
    if (this.queued) {
      return this.queued;
    }
    const next = this.tail.then(async () => {
      this.queued = undefined; // requests from now on need a run of their own
      try {
        await job();
      } catch (err) {
        this.onError(err);
      }
    });
    this.queued = next;
    this.tail = next;
    return next;
  }
}

/** Calls `fn` once, `delayMs` after the last of a burst of calls. */
export function debounce(fn: () => void, delayMs: number): { (): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const call = () => {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, delayMs);
  };
  call.cancel = () => timer && clearTimeout(timer);
  return call;
}
