import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NOT_FOUND_HELP,
  ServerNotFoundError,
  executable,
  expandPath,
  resolveServerCommand,
} from '../src/serverCommand';

const base = {
  serverPath: '',
  pythonPath: '',
  env: { PATH: '/usr/bin:/home/u/.local/bin', HOME: '/home/u' },
  platform: 'linux' as NodeJS.Platform,
  workspaceFolder: '/work/repo',
};

const files = (...paths: string[]) => (p: string) => paths.includes(p);

test('focal on PATH is started with `serve`', () => {
  const launch = resolveServerCommand({ ...base, isExecutable: files('/home/u/.local/bin/focal') });
  assert.deepEqual(launch, { command: '/home/u/.local/bin/focal', args: ['serve'], source: 'PATH' });
});

test('the first PATH entry wins', () => {
  const launch = resolveServerCommand({
    ...base,
    isExecutable: files('/usr/bin/focal', '/home/u/.local/bin/focal'),
  });
  assert.equal(launch.command, '/usr/bin/focal');
});

test('a configured interpreter runs `python -m lsp_server serve`', () => {
  const launch = resolveServerCommand({
    ...base,
    pythonPath: '${workspaceFolder}/.venv/bin/python',
    isExecutable: files('/work/repo/.venv/bin/python', '/usr/bin/focal'),
  });
  assert.deepEqual(launch, {
    command: '/work/repo/.venv/bin/python',
    args: ['-m', 'lsp_server', 'serve'],
    source: 'focal.server.pythonPath',
  });
});

test('a bare interpreter name is looked up on PATH', () => {
  const launch = resolveServerCommand({ ...base, pythonPath: 'python3', isExecutable: files('/usr/bin/python3') });
  assert.equal(launch.command, '/usr/bin/python3');
});

test('focal.server.path wins over the interpreter and PATH, with ~ expanded', () => {
  const launch = resolveServerCommand({
    ...base,
    serverPath: '~/bin/focal',
    pythonPath: '/usr/bin/python3',
    isExecutable: files('/home/u/bin/focal', '/usr/bin/python3', '/usr/bin/focal'),
  });
  assert.deepEqual(launch, { command: '/home/u/bin/focal', args: ['serve'], source: 'focal.server.path' });
});

test('Windows: PATHEXT and ; separators', () => {
  const launch = resolveServerCommand({
    ...base,
    env: { PATH: 'C:\\Python\\Scripts;C:\\Windows', PATHEXT: '.COM;.EXE;.CMD' },
    platform: 'win32',
    isExecutable: files('C:\\Python\\Scripts\\focal.exe'),
  });
  assert.equal(launch.command, 'C:\\Python\\Scripts\\focal.exe');
});

test('nothing found: an error that names the PATH searched and says what to install or set', () => {
  assert.throws(
    () => resolveServerCommand({ ...base, isExecutable: files() }),
    (err: unknown) =>
      err instanceof ServerNotFoundError &&
      err.message.includes('focal.server.path and focal.server.pythonPath are empty') &&
      err.message.includes('(searched /usr/bin:/home/u/.local/bin)') &&
      err.message.endsWith(NOT_FOUND_HELP),
  );
  assert.match(NOT_FOUND_HELP, /pip install focal-lsp/);
  assert.match(NOT_FOUND_HELP, /focal\.server\.path/);
});

test('a configured path that does not exist is reported, not silently replaced', () => {
  assert.throws(
    () => resolveServerCommand({ ...base, serverPath: '/nope/focal', isExecutable: files('/usr/bin/focal') }),
    /focal\.server\.path is set to "\/nope\/focal"/,
  );
  assert.throws(
    () => resolveServerCommand({ ...base, pythonPath: '/nope/python', isExecutable: files('/usr/bin/focal') }),
    /focal\.server\.pythonPath is set to "\/nope\/python"/,
  );
});

test('a configured path names both what was set and the exact path tried', () => {
  assert.throws(
    () => resolveServerCommand({ ...base, serverPath: '~/venv/bin/focal', isExecutable: files() }),
    /focal\.server\.path is set to "~\/venv\/bin\/focal" \(tried "\/home\/u\/venv\/bin\/focal"\), which is not an executable file/,
  );
  assert.throws(
    () => resolveServerCommand({ ...base, pythonPath: 'python9', isExecutable: files() }),
    /focal\.server\.pythonPath is set to "python9", which was not found on PATH \(searched \/usr\/bin:\/home\/u\/.local\/bin\)/,
  );
});

test('the server is spawned with no transport, so the client library appends nothing', () => {
  const launch = resolveServerCommand({ ...base, isExecutable: files('/usr/bin/focal') });
  const spawn = executable(launch, '/work/repo');
  assert.deepEqual(spawn, { command: '/usr/bin/focal', args: ['serve'], options: { cwd: '/work/repo' } });
  assert.equal('transport' in spawn, false);
  spawn.args.push('--x');
  assert.deepEqual(launch.args, ['serve'], 'the launch is not shared with the library');
  assert.deepEqual(executable(launch, undefined).options, {});
});

test('expandPath: ${userHome} and ${env:NAME}', () => {
  assert.equal(expandPath('${userHome}/m.gguf', { HOME: '/h' }), '/h/m.gguf');
  assert.equal(expandPath('${env:MODELS}/m.gguf', { MODELS: '/models' }), '/models/m.gguf');
  assert.equal(expandPath('  /abs/m.gguf ', {}), '/abs/m.gguf');
});
