// VS Code's `focal.*` configuration -> the settings tree the server reads (settings.py in
// lsp_server). No `vscode` import: unit-tested under plain node.

import { expandPath } from './serverCommand';

/** The server's sections and their (camelCase) fields; anything else stays on the client. */
export const SERVER_SETTINGS: Readonly<Record<string, readonly string[]>> = {
  model: [
    'path',
    'gpuLayers',
    'contextLength',
    'threads',
    'fimOrder',
    'flashAttn',
    'moeExperts',
    'cacheType',
    'folders',
    'memoryBudgetMb',
    'cpuExtraBuffers',
  ],
  routes: ['complete', 'fix', 'summarize'],
  completion: ['enabled', 'maxTokens', 'timeBudgetMs', 'temperature', 'multiline'],
  index: ['enabled'],
  context: ['budgetTokens', 'definitions', 'imports', 'similar', 'excludeGlobs'],
  diagnostics: ['syntax'],
  privacy: ['allowRemote'],
  remote: ['url', 'model', 'apiKeyEnv', 'timeoutS', 'retries', 'fim', 'fimFamily'],
  ledger: ['storeText'],
};

/** Settings only the extension reads; changing them restarts the server. */
export const CLIENT_ONLY_SECTIONS = ['server', 'trace'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type ServerSettings = Record<string, Record<string, Json>>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The server's settings tree from the `focal` configuration object (as
 * `workspace.getConfiguration().get('focal')` returns it, or the dotted keys of a
 * settings.json). Client-only keys (`server`, `trace`) are dropped: the server rejects
 * keys it does not know. Unset values (undefined) are left out so the server's defaults
 * apply; an empty model path means "default model"; `~` and `${userHome}` are expanded.
 */
export function toServerSettings(
  raw: unknown,
  env: Record<string, string | undefined> = {},
  workspaceFolder?: string,
): ServerSettings {
  const tree = isObject(raw) ? undot(raw) : {};
  const out: ServerSettings = {};
  for (const [section, fields] of Object.entries(SERVER_SETTINGS)) {
    const given = tree[section];
    if (!isObject(given)) {
      continue;
    }
    const values: Record<string, Json> = {};
    for (const field of fields) {
      const v = given[field];
      if (v !== undefined) {
        values[field] = v as Json;
      }
    }
    if (section === 'model' && typeof values.path === 'string') {
      const p = expandPath(values.path, env, workspaceFolder);
      values.path = p === '' ? null : p;
    }
    if (Object.keys(values).length > 0) {
      out[section] = values;
    }
  }
  return out;
}

/** `{"model.path": x}` -> `{model: {path: x}}`; nested objects pass through. */
function undot(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      if (!isObject(node[part])) {
        node[part] = {};
      }
      node = node[part] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1];
    node[last] =
      isObject(value) && isObject(node[last])
        ? { ...(node[last] as object), ...value }
        : isObject(value)
          ? undot(value)
          : value;
  }
  return out;
}

/** `initializationOptions` for `initialize`: the server accepts `{focal: tree}`. */
export function initializationOptions(
  raw: unknown,
  env: Record<string, string | undefined> = {},
  workspaceFolder?: string,
): { focal: ServerSettings } {
  return { focal: toServerSettings(raw, env, workspaceFolder) };
}

/**
 * What a configuration change needs: a server restart (client-only `focal.server.*`
 * settings choose the command line), a settings push, or nothing.
 */
export function configurationChangeAction(
  affects: (section: string) => boolean,
): 'restart' | 'push' | 'none' {
  if (affects('focal.server')) {
    return 'restart';
  }
  if (Object.keys(SERVER_SETTINGS).some((s) => affects(`focal.${s}`))) {
    return 'push';
  }
  return 'none';
}
