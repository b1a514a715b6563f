// The VS Code side of Focal: starts `focal serve`, passes the settings, shows the model and
// the origin of the last suggestion, and wires the commit-message and origin commands.
// Logic worth testing lives in the modules without a `vscode` import.

import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import {
  SUMMARIZE_COMMAND,
  mergeIntoInputBox,
  parseSummary,
  serverOffers,
  summarizeArguments,
  summaryNotice,
} from './commitMessage';
import { FocalStatus, statusBarView } from './origin';
import { SerialRuns, debounce } from './restarts';
import { ServerNotFoundError, executable, resolveServerCommand } from './serverCommand';
import { configurationChangeAction, initializationOptions, toServerSettings } from './settings';

const STATUS_REQUEST = 'focal/status';
const SHOW_ORIGIN_COMMAND = 'focal.showOrigin';

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
let lastStatus: FocalStatus | undefined;
let serverProblem: string | undefined;
let refreshTimer: NodeJS.Timeout | undefined;
// Every start, stop and restart goes through here, one at a time (see SerialRuns).
const lifecycle = new SerialRuns((err) => output.error(`Focal: restart failed: ${String(err)}`));

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) {
      return false;
    }
    if (process.platform === 'win32') {
      return true;
    }
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function workspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function focalConfiguration(): unknown {
  return vscode.workspace.getConfiguration().get('focal');
}

function renderStatus(): void {
  const view = statusBarView(lastStatus, serverProblem);
  statusItem.text = view.text;
  const tip = new vscode.MarkdownString(view.tooltip);
  tip.supportThemeIcons = true;
  statusItem.tooltip = tip;
  statusItem.backgroundColor = view.error
    ? new vscode.ThemeColor('statusBarItem.errorBackground')
    : undefined;
  statusItem.show();
}

async function refreshStatus(): Promise<void> {
  if (!client || !client.isRunning()) {
    return;
  }
  try {
    lastStatus = await client.sendRequest<FocalStatus>(STATUS_REQUEST, {});
    serverProblem = undefined;
  } catch (err) {
    output.warn(`focal/status failed: ${String(err)}`);
  }
  renderStatus();
  // Poll while the model loads; afterwards the status changes only with a suggestion.
  if (lastStatus && (lastStatus.state === 'loading' || lastStatus.state === 'idle')) {
    scheduleRefresh(1000);
  }
}

function scheduleRefresh(delayMs: number): void {
  if (refreshTimer) {
    clearTimeout(refreshTimer);
  }
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    void refreshStatus();
  }, delayMs);
}

function createClient(): LanguageClient | undefined {
  let launch;
  try {
    const cfg = vscode.workspace.getConfiguration('focal.server');
    launch = resolveServerCommand({
      serverPath: cfg.get<string>('path', ''),
      pythonPath: cfg.get<string>('pythonPath', ''),
      env: process.env,
      platform: process.platform,
      workspaceFolder: workspaceFolder(),
      isExecutable,
    });
  } catch (err) {
    serverProblem = err instanceof ServerNotFoundError ? err.message : String(err);
    output.error(serverProblem);
    renderStatus();
    void vscode.window.showErrorMessage(serverProblem, 'Open Settings').then((pick) => {
      if (pick) {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'focal.server');
      }
    });
    return undefined;
  }
  output.info(`Starting ${launch.command} ${launch.args.join(' ')} (from ${launch.source})`);

  // No `transport`: the library then spawns exactly this command line (see executable()).
  const serverOptions: ServerOptions = executable(launch, workspaceFolder());
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: output,
    initializationOptions: initializationOptions(focalConfiguration(), process.env, workspaceFolder()),
    middleware: {
      workspace: {
        // The server pulls section `focal`; hand it only the keys it knows.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((value, i) =>
            params.items[i]?.section === 'focal'
              ? toServerSettings(value, process.env, workspaceFolder())
              : value,
          );
        },
      },
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const items = await next(document, position, context, token);
        scheduleRefresh(50);
        return items;
      },
      provideCompletionItem: async (document, position, context, token, next) => {
        const items = await next(document, position, context, token);
        scheduleRefresh(50);
        return items;
      },
    },
  };
  return new LanguageClient('focal', 'Focal', serverOptions, clientOptions);
}

async function startClient(): Promise<void> {
  client = createClient();
  if (!client) {
    return;
  }
  client.onDidChangeState((e) => {
    if (e.newState === State.Stopped) {
      serverProblem = 'Focal: the server stopped. Run "Focal: Restart server" to start it again.';
      renderStatus();
    }
  });
  lastStatus = undefined;
  serverProblem = undefined;
  renderStatus();
  try {
    await client.start();
  } catch (err) {
    serverProblem = `Focal: the server did not start: ${String(err)}`;
    renderStatus();
    return;
  }
  await refreshStatus();
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    await c.stop().catch((err) => output.warn(`stop failed: ${String(err)}`));
  }
}

interface GitRepository {
  rootUri: vscode.Uri;
  inputBox: { value: string };
  ui?: { selected: boolean };
}

interface GitApi {
  repositories: GitRepository[];
  getRepository(uri: vscode.Uri): GitRepository | null;
}

async function gitApi(): Promise<GitApi> {
  const ext = vscode.extensions.getExtension<{ getAPI(version: 1): GitApi }>('vscode.git');
  if (!ext) {
    throw new Error('Focal: the built-in Git extension is disabled; enable it to fill the commit message.');
  }
  const exports = ext.isActive ? ext.exports : await ext.activate();
  return exports.getAPI(1);
}

/** The repository the user means: the one whose SCM view invoked us, else the selected one,
 * else the one holding the active editor's file, else the only one. */
function pickRepository(git: GitApi, arg: unknown): GitRepository | undefined {
  const fromArg = (arg as { rootUri?: vscode.Uri } | undefined)?.rootUri;
  if (fromArg) {
    const repo = git.getRepository(fromArg);
    if (repo) {
      return repo;
    }
  }
  const selected = git.repositories.find((r) => r.ui?.selected);
  if (selected) {
    return selected;
  }
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active) {
    const repo = git.getRepository(active);
    if (repo) {
      return repo;
    }
  }
  return git.repositories[0];
}

async function summarizeStagedChanges(arg?: unknown): Promise<void> {
  try {
    if (!client || !client.isRunning()) {
      throw new Error('Focal: the server is not running. Run "Focal: Restart server".');
    }
    const commands = client.initializeResult?.capabilities.executeCommandProvider?.commands;
    if (!serverOffers(commands, SUMMARIZE_COMMAND)) {
      throw new Error(`Focal: this server has no ${SUMMARIZE_COMMAND} command; update Focal.`);
    }
    const git = await gitApi();
    const repo = pickRepository(git, arg);
    if (!repo) {
      throw new Error('Focal: no Git repository is open.');
    }
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.SourceControl, title: 'Focal: summarizing staged changes…' },
      () =>
        client!.sendRequest(ExecuteCommandRequest.type, {
          command: SUMMARIZE_COMMAND,
          arguments: summarizeArguments(repo.rootUri.fsPath, true),
        }),
    );
    const summary = parseSummary(result);
    repo.inputBox.value = mergeIntoInputBox(repo.inputBox.value, summary.message);
    void vscode.window.showInformationMessage(summaryNotice(summary));
    scheduleRefresh(0);
  } catch (err) {
    void vscode.window.showErrorMessage(err instanceof Error ? err.message : String(err));
  }
}

async function showLastOrigin(): Promise<void> {
  if (!client || !client.isRunning()) {
    void vscode.window.showErrorMessage('Focal: the server is not running. Run "Focal: Restart server".');
    return;
  }
  // The server shows the origin itself (window/showMessage) and returns it.
  await client
    .sendRequest(ExecuteCommandRequest.type, { command: SHOW_ORIGIN_COMMAND, arguments: [] })
    .catch((err) => void vscode.window.showErrorMessage(`Focal: ${String(err)}`));
  await refreshStatus();
}

function restart(): Promise<void> {
  return lifecycle.run(async () => {
    await stopClient();
    await startClient();
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('Focal', { log: true });
  statusItem = vscode.window.createStatusBarItem('focal.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'Focal';
  statusItem.command = 'focal.showLastOrigin';
  context.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand('focal.summarizeStagedChanges', summarizeStagedChanges),
    vscode.commands.registerCommand('focal.showLastOrigin', showLastOrigin),
    vscode.commands.registerCommand('focal.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      const action = configurationChangeAction((s) => e.affectsConfiguration(s));
      if (action === 'restart') {
        // The settings editor writes on every keystroke: restart once the typing stops.
        restartSoon();
      } else if (action === 'push' && client?.isRunning()) {
        // Settings go as a push of the filtered tree; the server applies it at once.
        await client.sendNotification('workspace/didChangeConfiguration', {
          settings: { focal: toServerSettings(focalConfiguration(), process.env, workspaceFolder()) },
        });
        scheduleRefresh(500);
      }
    }),
    { dispose: () => refreshTimer && clearTimeout(refreshTimer) },
    { dispose: () => restartSoon.cancel() },
  );
  renderStatus();
  await lifecycle.run(startClient);
}

const restartSoon = debounce(() => void restart(), 400);

export async function deactivate(): Promise<void> {
  await lifecycle.run(stopClient);
}
