// How Focal's status and a suggestion's origin are shown in the status bar. No `vscode`
// import: unit-tested under plain node. Field names follow the server's `focal/status`
// answer (camelCase, see lsp_server/server.py and origin_view.py).

export interface Timing {
  queueMs?: number;
  prefillMs?: number;
  decodeMs?: number;
  totalMs?: number;
  promptTokens?: number;
  tokensReused?: number;
  tokensGenerated?: number;
}

export interface ContextChunk {
  path: string;
  startLine: number;
  endLine: number;
  reason: string;
}

export interface Origin {
  modelName: string;
  modelDigest: string;
  quantization: string;
  architecture?: string;
  engine: string;
  device: string;
  template?: string;
  timing?: Timing;
  confidence?: number;
  stopReason?: string;
  context?: ContextChunk[];
  route?: string;
}

export interface ModelInfo {
  name: string;
  quantization: string;
  device: string;
  digest?: string;
  path?: string;
}

export interface FocalStatus {
  state: 'idle' | 'loading' | 'ready' | 'error' | string;
  error?: string | null;
  model?: ModelInfo | null;
  lastSuggestion?: { id: string; origin: Origin } | null;
}

export interface StatusBarView {
  text: string;
  /** Markdown. */
  tooltip: string;
  error: boolean;
}

const ICON = '$(sparkle)';

function ms(v: number | undefined): string {
  return `${Math.round(v ?? 0)} ms`;
}

/** `SmolLM2 135M Q4_1` — the model as a label. */
export function modelLabel(model: { name: string; quantization: string }): string {
  return `${model.name} ${model.quantization}`.trim();
}

/** One line: `SmolLM2 Q4_1 · sha256:b179c952 · llama.cpp on cpu · 470 ms · confidence 0.67`. */
export function originSummary(origin: Origin): string {
  const parts = [
    modelLabel({ name: origin.modelName, quantization: origin.quantization }),
    `sha256:${origin.modelDigest.slice(0, 8)}`,
    `${origin.engine} on ${origin.device}`,
  ];
  if (origin.timing?.totalMs !== undefined) {
    parts.push(ms(origin.timing.totalMs));
  }
  if (origin.confidence !== undefined) {
    parts.push(`confidence ${origin.confidence.toFixed(2)}`);
  }
  return parts.join(' · ');
}

/** The origin as markdown (tooltip, hover); mirrors the server's own rendering. */
export function originMarkdown(origin: Origin, suggestionId?: string): string {
  const t = origin.timing ?? {};
  const lines = [
    `**${origin.modelName}** · ${origin.quantization} · \`sha256:${origin.modelDigest.slice(0, 8)}\``,
    '',
    `- engine: ${origin.engine} on ${origin.device}`,
  ];
  if (origin.architecture || origin.template) {
    lines.push(
      `- model: ${origin.architecture ?? '?'}, template \`${origin.template ?? '?'}\`` +
        (origin.route ? `, route ${origin.route}` : ''),
    );
  }
  lines.push(
    `- timing: ${ms(t.totalMs)} (queue ${ms(t.queueMs)}, prefill ${ms(t.prefillMs)}, ` +
      `decode ${ms(t.decodeMs)}); ${t.tokensGenerated ?? 0} tokens generated`,
  );
  if (origin.confidence !== undefined) {
    lines.push(
      `- confidence: ${origin.confidence.toFixed(2)}` +
        (origin.stopReason ? ` · stopped: ${origin.stopReason}` : ''),
    );
  }
  for (const c of origin.context ?? []) {
    lines.push(`- context \`${c.path}:${c.startLine + 1}-${c.endLine + 1}\` — ${c.reason}`);
  }
  if (suggestionId) {
    lines.push('', `suggestion \`${suggestionId}\``);
  }
  return lines.join('\n');
}

/**
 * The status bar item for a `focal/status` answer: the active model, and the origin of
 * the last suggestion (its time) when there is one.
 */
export function statusBarView(status: FocalStatus | undefined, serverProblem?: string): StatusBarView {
  if (serverProblem) {
    return { text: '$(error) Focal', tooltip: serverProblem, error: true };
  }
  if (!status) {
    return { text: `$(loading~spin) Focal`, tooltip: 'Focal: starting the server…', error: false };
  }
  switch (status.state) {
    case 'error':
      return {
        text: '$(error) Focal: no model',
        tooltip: `Focal could not load its model.\n\n${status.error ?? 'Unknown error.'}`,
        error: true,
      };
    case 'loading':
    case 'idle':
      return { text: '$(loading~spin) Focal: loading model', tooltip: 'Focal: loading the model…', error: false };
  }
  const model = status.model;
  const label = model ? modelLabel(model) : 'Focal';
  const last = status.lastSuggestion;
  const modelLine = model
    ? `**Focal** · ${modelLabel(model)} on ${model.device}` +
      (model.digest ? ` · \`sha256:${model.digest.slice(0, 8)}\`` : '')
    : '**Focal**';
  if (!last) {
    return {
      text: `${ICON} ${label}`,
      tooltip: `${modelLine}\n\nNo suggestion yet.`,
      error: false,
    };
  }
  const o = last.origin;
  const sameModel = !model || (o.modelName === model.name && o.quantization === model.quantization);
  const text = sameModel
    ? `${ICON} ${label} · ${ms(o.timing?.totalMs)}`
    : `${ICON} ${label} · last: ${modelLabel({ name: o.modelName, quantization: o.quantization })}`;
  return {
    text,
    tooltip: `${modelLine}\n\n---\n\nLast suggestion:\n\n${originMarkdown(o, last.id)}`,
    error: false,
  };
}
