import { loadConfig } from '../../functions/core/config';
import { createRuntime } from '../../functions/core/runtime';
import { createUpdateStreamer } from '../../functions/core/slack/answer-streamer';
import { type FakeMessage, startFakeSlack } from '../../stand-ins/slack/fake-slack';
import type { BenchContext } from './context';
import type { SectionResult } from './report';
import { seededRandom } from './stats';

const ANSWER_SECONDS = 60;
const TOKENS_PER_SECOND = 30;
const CHANNEL = 'C0BENCH0002';
const WORDS =
  'the key rotation policy requires every engineer to rotate their VPN key each quarter using the portal and to confirm the new fingerprint with the security team before the old key expires so that access is never interrupted'.split(
    ' ',
  );

/** A deterministic model output: words, with a bullet list and a paragraph break now and then (Markdown). */
function tokens(count: number): string[] {
  const random = seededRandom(6);
  return Array.from({ length: count }, (_, i) => {
    const word = WORDS[Math.floor(random() * WORDS.length)] as string;
    if (i % 120 === 0 && i > 0) return `\n\n**${word}**`;
    if (i % 40 === 0 && i > 0) return `\n- ${word}`;
    return ` ${word}`;
  });
}

/** The most edits within any one-second window of `times` (ms). */
function maxPerSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= 1000) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

function minGap(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < sorted.length; i++)
    gap = Math.min(gap, (sorted[i] as number) - (sorted[i - 1] as number));
  return gap;
}

/**
 * Section 6: a 60-second answer at 30 tokens a second streamed into a Slack placeholder by the product's
 * streamer (`createUpdateStreamer`), through the real WebClient to the fake Slack, and at the same time by the
 * baseline: a naive streamer that edits the message on every token. The quick run plays the same answer on a
 * clock running ten times fast, through the streamer's injectable `now` and `sleep`; the Slack calls' own
 * latencies stay real.
 */
export async function benchStreaming(ctx: BenchContext): Promise<SectionResult> {
  const speedUp = ctx.quick ? 10 : 1;
  const slack = await startFakeSlack({ botUserId: 'U0LOCALBOT' });
  const runtime = createRuntime(
    loadConfig({ LOG_LEVEL: 'silent', SLACK_API_URL: slack.apiUrl, SLACK_BOT_TOKEN: slack.token }),
  );
  try {
    const client = await runtime.slackClient();
    const root = slack.addMessage({ channel: CHANNEL, text: '<@U0LOCALBOT> question', user: 'U0HUMAN001' });
    const placeholder = async () => {
      const posted = await client.chat.postMessage({
        channel: CHANNEL,
        thread_ts: root.ts,
        text: 'Typing...',
      });
      return posted.ts as string;
    };
    const oursTs = await placeholder();
    const naiveTs = await placeholder();

    const realStart = Date.now();
    // The simulated clock: ms since the start run `speedUp` times faster than the wall clock.
    const now = () => realStart + (Date.now() - realStart) * speedUp;
    const toSimulated = (at: number) => realStart + (at - realStart) * speedUp;
    const sleep = (ms: number) =>
      ms <= 0 ? Promise.resolve() : new Promise<void>((resolve) => setTimeout(resolve, ms / speedUp));
    const warnings: string[] = [];
    const streamer = createUpdateStreamer(client, {
      channel: CHANNEL,
      threadTs: root.ts,
      placeholderTs: oursTs,
      now,
      sleep,
      logger: { warn: (message) => warnings.push(message) },
    });

    const stream = tokens(ANSWER_SECONDS * TOKENS_PER_SECOND);
    ctx.log(
      `streaming: ${stream.length} tokens over ${ANSWER_SECONDS} simulated s (${(ANSWER_SECONDS / speedUp).toFixed(0)} s of wall time)`,
    );
    let naiveText = '';
    const naiveCalls: Promise<unknown>[] = [];
    let firstTokenAt = 0;
    const tokenMs = 1000 / TOKENS_PER_SECOND;
    for (const [i, token] of stream.entries()) {
      const due = realStart + (i * tokenMs) / speedUp;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (i === 0) firstTokenAt = Date.now();
      await streamer.append(token);
      naiveText += token;
      naiveCalls.push(
        client.chat.update({ channel: CHANNEL, ts: naiveTs, text: naiveText }).catch(() => undefined),
      );
    }
    const lastTokenAt = Date.now();
    const answer = stream.join('');
    const finalTs = await streamer.finish({
      answerMarkdown: answer,
      sources: [{ source: 'docs/vpn.md', title: 'VPN guide', heading: 'Rotating keys' }],
      model: 'bench-model',
    });
    const finishedAt = Date.now();
    await Promise.all(naiveCalls);

    const messages = slack.messages(CHANNEL);
    const message = (ts: string) => messages.find((m) => m.ts === ts) as FakeMessage;
    const ours = message(oursTs);
    const naive = message(naiveTs);
    const firstVisible = (m: FakeMessage) => (m.updates[0]?.at ?? Number.NaN) - firstTokenAt;
    // Only the calls made for the answer: the edits of its messages, and the continuations posted.
    const ourCalls = slack.calls.filter(
      (c) =>
        c.at >= firstTokenAt &&
        c.args.channel === CHANNEL &&
        (finalTs.includes(String(c.args.ts)) ||
          (c.method === 'chat.postMessage' && c.args.thread_ts === root.ts)),
    );
    const naiveCallCount = slack.calls.filter(
      (c) => c.method === 'chat.update' && c.args.ts === naiveTs,
    ).length;
    const ourUpdateTimes = finalTs.map((ts) => message(ts).updates.map((u) => toSimulated(u.at)));
    const oursMaxPerSecond = Math.max(...ourUpdateTimes.map(maxPerSecond));
    const naiveTimes = naive.updates.map((u) => toSimulated(u.at));

    return {
      key: 'streaming',
      title: 'Streaming an answer into Slack',
      workload:
        `a ${ANSWER_SECONDS}-second answer at ${TOKENS_PER_SECOND} tokens/s (${stream.length} tokens, ${answer.length.toLocaleString('en')} characters of Markdown) ` +
        `streamed by createUpdateStreamer through the real WebClient to the fake Slack${speedUp === 1 ? ', in real time' : `, on a clock running ${speedUp}× fast (the streamer's injectable now/sleep); Slack calls at their real latency`}`,
      baseline:
        'a naive streamer editing the message on every token (fire-and-forget chat.update), fed the same tokens at the same time',
      figures: [
        {
          name: 'first token → first visible text',
          value: firstVisible(ours),
          unit: 'ms',
          baseline: firstVisible(naive),
          target: { max: 1000 },
        },
        {
          name: 'Slack calls for the answer',
          value: ourCalls.length,
          unit: 'count',
          baseline: naiveCallCount,
        },
        {
          name: 'most edits of one message in any second',
          value: oursMaxPerSecond,
          unit: 'count',
          baseline: maxPerSecond(naiveTimes),
          target: { max: 1 },
        },
        {
          name: 'last token → final answer shown',
          value: finishedAt - lastTokenAt,
          unit: 'ms',
        },
      ],
      notes: [
        'Edits are at most one a second and the interval doubles as edits pile up (after 10, 20, 40 … edits, up to 5 s), so a long answer costs a few dozen calls; the final edit waits out the 1-s minimum after the previous one.',
        ...(warnings.length > 0 ? [`The streamer logged ${warnings.length} warning(s): ${warnings[0]}`] : []),
      ],
      details: {
        speedUp,
        tokens: stream.length,
        characters: answer.length,
        messages: finalTs.length,
        ours: {
          calls: ourCalls.length,
          byMethod: Object.fromEntries(
            [...new Set(ourCalls.map((c) => c.method))].map((m) => [
              m,
              ourCalls.filter((c) => c.method === m).length,
            ]),
          ),
          editsOfPlaceholder: ours.updates.length,
          minGapMs: Math.round(Math.min(...ourUpdateTimes.map(minGap))),
        },
        naive: { calls: naiveCallCount, minGapMs: Math.round(minGap(naiveTimes)) },
        warnings: warnings.length,
      },
    };
  } finally {
    await slack.close();
  }
}
