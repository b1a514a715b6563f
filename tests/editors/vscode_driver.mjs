// Drives Focal's VS Code extension in a real VS Code (code-server, in Debian's headless
// Chromium through playwright-core) the way a user would: open a file, type, wait for the
// ghost text, accept it with Tab, save, read the status bar, run "Focal: Show origin",
// time the ghost text after keystroke pauses, stage and run "Focal: Summarize staged
// changes", commit from the Source Control box. Run by tests/editors/test_vscode_real.py
// with one argument, a JSON config; writes its results (and where it failed) to
// config.out as JSON, and a screenshot per step to config.screenshots.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(cfg.tools, 'node_modules', 'x.js'));
const { chromium } = require('playwright-core');

const GHOST = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text';
const result = { steps: [], pauses: [], notifications: [], failed_step: null, error: null };
let page;
let shot = 0;

function save() {
  fs.writeFileSync(cfg.out, JSON.stringify(result, null, 2));
}

async function screenshot(name) {
  shot += 1;
  const file = path.join(cfg.screenshots, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file }).catch(() => undefined);
  return file;
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const value = await fn();
    result.steps.push({ name, ms: Date.now() - t0, screenshot: await screenshot(name) });
    save();
    return value;
  } catch (err) {
    result.failed_step = name;
    result.error = String(err && err.stack ? err.stack : err);
    await screenshot(`FAILED-${name}`);
    result.notifications = await notifications().catch(() => []);
    save();
    throw err;
  }
}

/** The texts of the notification toasts on screen (and the notification center). */
async function notifications() {
  return page.$$eval('.notification-list-item', (items) =>
    items.map((n) => n.innerText.replace(/\s+/g, ' ').trim()),
  );
}

/** The Focal item of the status bar, by its name. */
async function focalStatus() {
  return page.evaluate(() => {
    const items = [...document.querySelectorAll('.statusbar-item')];
    const item = items.find((i) => (i.id || '').includes('focal.status'));
    return item ? { text: item.innerText.trim(), label: item.getAttribute('aria-label') ?? '' } : null;
  });
}

async function waitFor(what, fn, timeoutMs, intervalMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) {
      return last;
    }
    await page.waitForTimeout(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 10000 });
  await page.keyboard.press('Enter');
}

/** Record, in the page, when the last key went down and when ghost text showed after it. */
async function watchGhostText() {
  await page.evaluate((selector) => {
    window.__focal = { lastKey: 0, ghostAt: null, ghost: '' };
    const check = () => {
      const el = document.querySelector(selector);
      if (el && window.__focal.ghostAt === null && window.__focal.lastKey > 0) {
        window.__focal.ghostAt = performance.now();
        window.__focal.ghost = [...document.querySelectorAll(selector)].map((e) => e.textContent).join('\n');
      }
    };
    document.addEventListener(
      'keydown',
      () => {
        window.__focal.lastKey = performance.now();
        window.__focal.ghostAt = null;
      },
      true,
    );
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true });
    setInterval(check, 20);
  }, GHOST);
}

/** Type `text`, then wait for ghost text; the time from the last keystroke to it. */
async function typeAndTime(text, timeoutMs) {
  await page.keyboard.type(text, { delay: cfg.key_delay_ms });
  const seen = await waitFor(
    'ghost text',
    () => page.evaluate(() => (window.__focal.ghostAt !== null ? { ...window.__focal } : null)),
    timeoutMs,
    25,
  );
  return { ms: Math.round(seen.ghostAt - seen.lastKey), ghost: seen.ghost };
}

async function main() {
  fs.mkdirSync(cfg.screenshots, { recursive: true });
  const context = await chromium.launchPersistentContext(cfg.browser_profile, {
    executablePath: cfg.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=AutofillServerCommunication',
    ],
    // The browser is the test's, not Focal's: its own calls home (autofill, updates,
    // accounts) go to a closed loopback port instead of the suite's recording proxy, whose
    // record is for what Focal's processes try. code-server on loopback is reached directly.
    proxy: { server: 'http://127.0.0.1:9', bypass: '127.0.0.1,localhost,[::1]' },
    viewport: { width: 1400, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  try {
    await step('workbench', async () => {
      await page.goto(`${cfg.url}/?folder=${encodeURIComponent(cfg.folder)}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
      await page.locator('.statusbar').waitFor();
    });

    await step('open-file', async () => {
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await input.fill(cfg.file);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: cfg.file }).first().waitFor();
      await page.keyboard.press('Enter');
      await page.locator(`.tab[data-resource-name="${cfg.file}"]`).waitFor();
      await page.locator('.monaco-editor .view-lines').first().waitFor();
    });

    result.status_ready = await step('server-and-model-ready', () =>
      waitFor(
        `the Focal status bar item to show ${cfg.model_label}`,
        async () => {
          const s = await focalStatus();
          if (s && /error/i.test(s.text + s.label) && !s.text.includes(cfg.model_label)) {
            throw new Error(`the status bar reports a problem: ${JSON.stringify(s)}; ` +
              `notifications: ${JSON.stringify(await notifications())}`);
          }
          return s && s.text.includes(cfg.model_label) ? s : null;
        },
        cfg.start_timeout_ms,
        250,
      ),
    );

    await watchGhostText();
    // Cursor at the end of the file, where the test's code goes.
    await page.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');

    const first = await step('first-ghost-text', () => typeAndTime(cfg.first_text, cfg.ghost_timeout_ms));
    result.first = first;
    await step('accept-with-tab', async () => {
      await page.keyboard.press('Tab');
      await waitFor('the ghost text to be inserted', async () => !(await page.$(GHOST)), 5000);
      await page.keyboard.press('Control+S');
      await waitFor(
        'the file to be saved',
        async () => !(await page.$('.tab.dirty')),
        10000,
      );
    });
    result.saved_after_accept = fs.readFileSync(path.join(cfg.folder, cfg.file), 'utf8');

    result.status_after_accept = await step('status-bar-origin', () =>
      waitFor(
        'the status bar to show the suggestion time',
        async () => {
          const s = await focalStatus();
          return s && / \d+ ms/.test(s.text) ? s : null;
        },
        10000,
      ),
    );
    await page.locator('.statusbar-item[id*="focal.status"]').hover();
    await page.waitForTimeout(800);
    result.status_tooltip = await page
      .$$eval('.monaco-hover, .workbench-hover', (els) => els.map((e) => e.innerText).join('\n'))
      .catch(() => '');
    await screenshot('status-bar-tooltip');
    await page.mouse.move(10, 300);

    result.show_origin = await step('show-origin-command', async () => {
      await runCommand('Focal: Show origin');
      return waitFor(
        'the origin notification',
        async () => {
          const all = await notifications();
          const bad = all.find((n) => /Invalid Params|Expected \d+ arguments|not running/.test(n));
          if (bad) {
            throw new Error(`Show origin failed: ${bad}`);
          }
          return all.find((n) => n.includes('sha256:')) ?? null;
        },
        15000,
      );
    });
    await page.keyboard.press('Escape');
    // Clear the toasts so that later steps see only their own.
    await runCommand('Notifications: Clear All Notifications').catch(() => undefined);

    // A second file, newly opened: its first ghost text, then the keystroke pauses.
    await step('open-second-file', async () => {
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await input.fill(cfg.pause_file);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: cfg.pause_file }).first().waitFor();
      await page.keyboard.press('Enter');
      await page.locator(`.tab.active[data-resource-name="${cfg.pause_file}"]`).waitFor();
      await page.locator('.monaco-editor .view-lines').first().click();
      await page.keyboard.press('Control+End');
    });
    result.first_in_new_file = await step('first-ghost-text-in-new-file', async () => {
      // Not dismissed: a user who does not take it types on.
      return typeAndTime(cfg.new_file_text, cfg.ghost_timeout_ms);
    });

    await step('keystroke-pauses', async () => {
      for (const text of cfg.pause_texts) {
        try {
          const p = await typeAndTime(text, cfg.pause_timeout_ms);
          result.pauses.push({ typed: text, ...p });
        } catch (err) {
          // The model may have nothing to say at one place (an empty suggestion shows no
          // ghost text); the test allows a few such pauses and fails on more.
          result.pauses.push({ typed: text, ms: null, ghost: null, status: await focalStatus() });
        }
        save();
      }
      await page.keyboard.press('Control+S');
      await waitFor('the file to be saved', async () => !(await page.$('.tab.dirty')), 10000);
    });

    result.summary_notice = await step('summarize-staged-changes', async () => {
      execFileSync('git', ['add', '-A'], { cwd: cfg.folder });
      await runCommand('Focal: Summarize staged changes');
      return waitFor(
        'the commit message notice',
        async () => {
          const all = await notifications();
          const bad = all.find((n) => /^Focal: (?!commit message)/.test(n) && !n.includes('sha256'));
          if (bad && /fail|not running|error|no /i.test(bad)) {
            throw new Error(`Summarize failed: ${bad}`);
          }
          return all.find((n) => n.startsWith('Focal: commit message')) ?? null;
        },
        cfg.summary_timeout_ms,
        250,
      );
    });

    await step('commit-from-source-control', async () => {
      await page.keyboard.press('Control+Shift+G');
      const box = page.locator('.scm-editor .monaco-editor').first();
      await box.waitFor({ state: 'visible' });
      await box.click();
      await page.keyboard.press('Control+Enter');
      await waitFor(
        'the commit',
        async () => execFileSync('git', ['log', '--oneline'], { cwd: cfg.folder, encoding: 'utf8' })
          .trim().split('\n').length > 1,
        20000,
        250,
      );
    });
  } finally {
    result.output_channel = await page
      .evaluate(() => document.querySelector('.output-view')?.innerText ?? '')
      .catch(() => '');
    save();
    await context.close().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    if (!result.error) {
      result.error = String(err && err.stack ? err.stack : err);
      save();
    }
    process.exit(1);
  },
);
