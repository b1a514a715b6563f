// How the Focal server is started: which executable, which arguments. No `vscode` import, so
// that it can be unit-tested under plain node.

import * as path from 'path';

/** What the user configured (`focal.server.*`), plus what the platform offers. */
export interface ServerLaunchInput {
  /** `focal.server.path`: the `focal` executable, or empty. */
  serverPath: string;
  /** `focal.server.pythonPath`: an interpreter with Focal installed, or empty. */
  pythonPath: string;
  /** The extension host's environment (PATH, HOME, PATHEXT). */
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  /** The first workspace folder, for `${workspaceFolder}` in paths. */
  workspaceFolder?: string;
  /** Whether `p` is an executable file (injected so that tests need no real files). */
  isExecutable: (p: string) => boolean;
}

export interface ServerLaunch {
  command: string;
  args: string[];
  /** Where the command came from, for the output channel and error messages. */
  source: 'focal.server.path' | 'focal.server.pythonPath' | 'PATH';
}

export class ServerNotFoundError extends Error {}

export const NOT_FOUND_HELP =
  'Install Focal (`pip install focal-lsp`), or set `focal.server.path` to the `focal` ' +
  'executable, or `focal.server.pythonPath` to a Python interpreter that has Focal installed.';

/** The message when neither setting is set and `focal` is on no PATH directory: it names
 * the directories searched, so a PATH that differs from the shell's is visible. */
export function notOnPathMessage(env: Record<string, string | undefined>, platform: NodeJS.Platform): string {
  const dirs = pathDirs(env, platform);
  const where = dirs.length > 0 ? `searched ${dirs.join(platform === 'win32' ? ';' : ':')}` : 'PATH is empty';
  return (
    'Focal: focal.server.path and focal.server.pythonPath are empty and `focal` was not found on ' +
    `PATH (${where}). ${NOT_FOUND_HELP}`
  );
}

function pathDirs(env: Record<string, string | undefined>, platform: NodeJS.Platform): string[] {
  return (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : ':').filter((d) => d.length > 0);
}

function tried(raw: string, expanded: string): string {
  return raw.trim() === expanded ? `"${expanded}"` : `"${raw.trim()}" (tried "${expanded}")`;
}

/** `~` and `${workspaceFolder}` / `${userHome}` / `${env:NAME}` in a configured path. */
export function expandPath(
  value: string,
  env: Record<string, string | undefined>,
  workspaceFolder?: string,
): string {
  const home = env.HOME ?? env.USERPROFILE ?? '';
  let out = value.trim();
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
    out = home + out.slice(1);
  }
  return out
    .replace(/\$\{userHome\}/g, home)
    .replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? '')
    .replace(/\$\{env:([^}]+)\}/g, (_m, name: string) => env[name] ?? '');
}

/** Look `name` up on PATH the way a shell would (with PATHEXT on Windows). */
export function findOnPath(
  name: string,
  env: Record<string, string | undefined>,
  platform: NodeJS.Platform,
  isExecutable: (p: string) => boolean,
): string | undefined {
  const win = platform === 'win32';
  const p = win ? path.win32 : path.posix;
  const dirs = pathDirs(env, platform);
  const exts = win ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean) : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = p.join(dir, name + ext.toLowerCase());
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/**
 * The command line that starts `focal serve` on stdio. In order: `focal.server.path`,
 * `focal.server.pythonPath` (`python -m lsp_server serve`), then `focal` on PATH.
 * Throws `ServerNotFoundError` with a message the user can act on.
 */
export function resolveServerCommand(input: ServerLaunchInput): ServerLaunch {
  const configured = expandPath(input.serverPath ?? '', input.env, input.workspaceFolder);
  if (configured) {
    if (!input.isExecutable(configured)) {
      throw new ServerNotFoundError(
        `Focal: focal.server.path is set to ${tried(input.serverPath, configured)}, which is not ` +
          'an executable file. Fix the setting or clear it to use `focal` from PATH.',
      );
    }
    return { command: configured, args: ['serve'], source: 'focal.server.path' };
  }

  const python = expandPath(input.pythonPath ?? '', input.env, input.workspaceFolder);
  if (python) {
    // A bare name such as `python3` is looked up on PATH; a path must exist.
    const isBare = !python.includes('/') && !python.includes('\\');
    const resolved = isBare
      ? findOnPath(python, input.env, input.platform, input.isExecutable)
      : input.isExecutable(python)
        ? python
        : undefined;
    if (!resolved) {
      const how = isBare ? ` on PATH (searched ${pathDirs(input.env, input.platform).join(':')})` : '';
      throw new ServerNotFoundError(
        `Focal: focal.server.pythonPath is set to ${tried(input.pythonPath, python)}, which was ` +
          `not found${how}. Point it at a Python interpreter that has Focal installed.`,
      );
    }
    return {
      command: resolved,
      args: ['-m', 'lsp_server', 'serve'],
      source: 'focal.server.pythonPath',
    };
  }

  const onPath = findOnPath('focal', input.env, input.platform, input.isExecutable);
  if (onPath) {
    return { command: onPath, args: ['serve'], source: 'PATH' };
  }
  throw new ServerNotFoundError(notOnPathMessage(input.env, input.platform));
}

/** What `vscode-languageclient` gets to spawn: the command line and its working folder,
 * with no `transport`. With `transport: TransportKind.stdio` the library appends `--stdio`
 * to the arguments (10.x does; older `focal` releases rejected it); without one it spawns
 * the command exactly as given and still talks over stdin/stdout. */
export function executable(launch: ServerLaunch, cwd: string | undefined): {
  command: string;
  args: string[];
  options: { cwd?: string };
} {
  return { command: launch.command, args: [...launch.args], options: cwd ? { cwd } : {} };
}
