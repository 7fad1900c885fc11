import type { TraceEntry } from '../../stand-ins/aws/step-functions-local';
import type { FakeMessage } from '../../stand-ins/slack/fake-slack';

type Block = {
  type: string;
  text?: { text?: string };
  elements?: { text?: string }[];
};

/** A message as Slack would show it, in plain text: its blocks when it has them, else its text. */
export function renderMessage(message: FakeMessage, indent = '  '): string {
  const blocks = (message.blocks ?? []) as Block[];
  const lines =
    blocks.length === 0
      ? [message.text]
      : blocks.map((block) => {
          if (block.type === 'divider') return '────────';
          if (block.type === 'section') return block.text?.text ?? '';
          if (block.type === 'context') return (block.elements ?? []).map((e) => e.text ?? '').join('  ');
          // The feedback buttons under an answer, as Slack draws them.
          if (block.type === 'context_actions') return '[👍] [👎]';
          return `[${block.type}]`;
        });
  return lines
    .join('\n')
    .split('\n')
    .map((line) => `${indent}${line}`)
    .join('\n');
}

/** One line per state, with its duration and attempts, and the total. */
export function renderTrace(trace: TraceEntry[], indent = '  '): string {
  const total = trace.reduce((sum, t) => sum + t.ms, 0);
  const lines = trace.map((t) => {
    const attempts = t.attempts > 1 ? `, ${t.attempts} attempts` : '';
    const outcome = t.outcome === 'succeeded' ? '' : ` (${t.outcome})`;
    return `${indent}${t.state.padEnd(28)} ${String(t.ms).padStart(6)} ms${attempts}${outcome}`;
  });
  return [...lines, `${indent}${'total in states'.padEnd(28)} ${String(total).padStart(6)} ms`].join('\n');
}
