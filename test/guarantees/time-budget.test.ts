import { readFileSync } from 'node:fs';
import { conversationFunctions } from '../../functions/conversation-functions';
import { askThroughSlack } from '../../scripts/local/ask-client';
import { CONVERSATION_DEFINITION } from '../../scripts/local/stack';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { STILL_WORKING } from '../support/in-progress';
import { type LocalStack, startTestStack, visibleText } from '../support/local-stack';

/**
 * The conversation runs as an Express execution, whose own timeout (TimeoutSeconds, at most 5 minutes) cannot be
 * caught: past it, Report failure never runs and the placeholder stays "Searching…" for good. So every Task's
 * attempts, their retry pauses and Report failure's own worst case must fit inside it, along the longest path.
 * The first part computes that sum from the ASL file itself, so an edit that breaks the budget fails here; the
 * second runs the real ASL on the local stack, its clock sped up, with a model that hangs.
 */

/** What AWS gives an Express execution at most. */
const EXPRESS_MAX_SECONDS = 300;
/**
 * Left over after the worst case, for what no TimeoutSeconds counts: Step Functions' own transitions between
 * states, and the start of the execution after the ack's StartExecution.
 */
const RESERVE_SECONDS = 10;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
}

interface State {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
  Catch?: { Next: string }[];
  Choices?: { Next: string }[];
  Default?: string;
  Next?: string;
}

interface Definition {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, State>;
}

const definitionText = readFileSync(CONVERSATION_DEFINITION, 'utf8');
const readDefinition = (): Definition => JSON.parse(definitionText) as Definition;

/**
 * The longest a state can take: every attempt (the first and each retry, whichever retrier's errors it fails
 * with) running to its TimeoutSeconds, plus every pause before a retry at its largest (jitter only shortens one).
 * A Task without TimeoutSeconds has no bound (AWS's default is 99,999,999 s).
 */
function worstCaseSeconds(state: State): number {
  if (state.Type !== 'Task') return 0;
  if (state.TimeoutSeconds === undefined) return Number.POSITIVE_INFINITY;
  let attempts = 1;
  let pauses = 0;
  for (const retrier of state.Retry ?? []) {
    const retries = retrier.MaxAttempts ?? 3;
    attempts += retries;
    for (let n = 0; n < retries; n += 1) {
      const pause = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** n;
      pauses += Math.min(pause, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
    }
  }
  return attempts * state.TimeoutSeconds + pauses;
}

/** The longest path from `StartAt` to an end, through every Next, Choice, Default and Catch; with its states. */
function longestPath(definition: Definition): { seconds: number; states: string[] } {
  const visit = (name: string, seen: string[]): { seconds: number; states: string[] } => {
    if (seen.includes(name)) throw new Error(`a cycle through "${name}": no bound`);
    const state = definition.States[name];
    if (state === undefined) throw new Error(`no state "${name}"`);
    const next = [
      state.Next,
      state.Default,
      ...(state.Choices ?? []).map((c) => c.Next),
      ...(state.Catch ?? []).map((c) => c.Next),
    ].filter((n): n is string => n !== undefined);
    const longest = next
      .map((n) => visit(n, [...seen, name]))
      .reduce((a, b) => (b.seconds > a.seconds ? b : a), { seconds: 0, states: [] as string[] });
    return { seconds: worstCaseSeconds(state) + longest.seconds, states: [name, ...longest.states] };
  };
  return visit(definition.StartAt, []);
}

const PLACEHOLDER = /^\$\{(\w+)\}$/;

describe('the time budget of the conversation state machine, from statemachine/conversation.asl.json', () => {
  it('fits the longest path, its retries and Report failure inside the execution timeout, with room to spare', () => {
    // Arrange
    const definition = readDefinition();

    // Act
    const longest = longestPath(definition);

    // Assert
    expect(definition.TimeoutSeconds).toBeDefined();
    expect(definition.TimeoutSeconds).toBeLessThanOrEqual(EXPRESS_MAX_SECONDS);
    expect(longest.states).toContain('Report failure');
    expect(longest.seconds + RESERVE_SECONDS).toBeLessThanOrEqual(definition.TimeoutSeconds as number);
  });

  it('counts every attempt at its timeout and every pause at its largest, so a slower step breaks the budget', () => {
    // Arrange: one more retry of the model's answer, or a Task with no timeout at all.
    const slower = readDefinition();
    const generate = slower.States['Generate and stream'] as State;
    const retrier = generate.Retry?.[0] as Retrier;
    retrier.MaxAttempts = (retrier.MaxAttempts ?? 3) + 1;
    const unbounded = readDefinition();
    delete (unbounded.States.Retrieve as State).TimeoutSeconds;

    // Act
    const added = longestPath(slower).seconds - longestPath(readDefinition()).seconds;

    // Assert
    expect(added).toBeGreaterThanOrEqual(generate.TimeoutSeconds as number);
    expect(longestPath(unbounded).seconds).toBe(Number.POSITIVE_INFINITY);
    expect(worstCaseSeconds({ Type: 'Task', TimeoutSeconds: 10, Retry: [{ ErrorEquals: ['X'] }] })).toBe(
      10 * 4 + 1 + 2 + 4,
    );
  });

  it.each(Object.entries(readDefinition().States).filter(([, s]) => s.Type === 'Task'))(
    '"%s": its Lambda stops a little before the Task times out, so a late attempt cannot outlive its state',
    (_name, state) => {
      // Arrange
      const placeholder = PLACEHOLDER.exec(state.Resource ?? '')?.[1] as keyof typeof conversationFunctions;

      // Act
      const lambdaSeconds = conversationFunctions[placeholder].timeoutSeconds;

      // Assert: past the Task's timeout the execution has moved on (to a retry or to Report failure); a Lambda still
      // streaming then would edit the thread behind the apology. Lambda ends it first, and the handler ends its model
      // call before that (functions/core/step-deadline.ts).
      expect(lambdaSeconds).toBeLessThan(state.TimeoutSeconds as number);
    },
  );
});

// ── the behaviour, on the local stack ─────────────────────────────────────────────────────────────────────────

/** The local clock runs ten times faster: 280 s of execution are 28 s. */
const SCALE = 0.1;
/** A scaled Task timeout never drops below this: a local DynamoDB call or Slack edit does not get faster. */
const MIN_TASK_SECONDS = 2;
const CHAT = '/v1/chat/completions';
const EMBEDDINGS = '/v1/embeddings';

/**
 * When, in the scaled clock, a hung call of `stateName` has its connection dropped: just before its Lambda would
 * time out. That is the longest an attempt can take and still fail with an error that is retried.
 */
function justBeforeDeadlineMs(stateName: string): number {
  const state = readDefinition().States[stateName] as State;
  const placeholder = PLACEHOLDER.exec(state.Resource ?? '')?.[1] as keyof typeof conversationFunctions;
  const taskSeconds = Math.max((state.TimeoutSeconds as number) * SCALE, MIN_TASK_SECONDS);
  const lambdaSeconds =
    taskSeconds *
    Math.min(1, conversationFunctions[placeholder].timeoutSeconds / (state.TimeoutSeconds as number));
  return Math.floor(lambdaSeconds * 1000 * 0.97);
}

/** How many times Generate and stream is tried in all. */
function generateAttempts(): number {
  const generate = readDefinition().States['Generate and stream'] as State;
  return 1 + (generate.Retry ?? []).reduce((sum, r) => sum + (r.MaxAttempts ?? 3), 0);
}

describe('a model that hangs, on the local stack with its clock ten times faster', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;
  let openai: FakeOpenAI;

  /** A stack whose clock runs ten times faster, its model the fake OpenAI, streaming as `mode` says. */
  const startScaledStack = (mode: 'update' | 'native') =>
    startTestStack({
      env: {
        LLM_PROVIDER: 'openai',
        OPENAI_API_KEY: 'sk-time-budget',
        OPENAI_BASE_URL: openai.url,
        // Only the steps' time limits end a hung call: neither the client's timeout nor its own retries.
        OPENAI_MAX_RETRIES: '0',
        OPENAI_TIMEOUT_MS: '600000',
        SLACK_STREAM_MODE: mode,
      },
      timeScale: { scale: SCALE, minTaskSeconds: MIN_TASK_SECONDS },
      retryIntervalMs: null,
    });

  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-time-budget' });
    ({ stack, close } = await startScaledStack('update'));
  });
  afterAll(async () => {
    await close();
    await openai.close();
  });

  /** The one bot message of the thread: the apology naming the execution, never a placeholder or half answer. */
  function expectApology(result: Awaited<ReturnType<typeof askThroughSlack>>, on = stack): string {
    const replies = on.slack
      .threadReplies(result.sent.channel, result.sent.threadTs)
      .filter((m) => m.bot_id !== undefined && !m.deleted && m.ts > result.sent.ts);
    expect(replies).toHaveLength(1);
    const shown = visibleText(replies[0] as never);
    expect(shown).not.toMatch(STILL_WORKING);
    expect(shown).toContain("Sorry, I couldn't answer this one");
    expect(shown).toContain(result.execution?.name as string);
    expect(shown).not.toContain('Generated by');
    return shown;
  }

  // Attempts before the hung one fail at once (the connection dropped); from it on, every attempt hangs until its
  // connection drops just before the step's deadline.
  it.each([
    ['the first', 1],
    ['the second', 2],
    ['the last', generateAttempts()],
  ])(
    'hanging from %s attempt of the answer on: the placeholder becomes the apology',
    async (_which, from) => {
      // Arrange
      const question = `Which budget code applies to hang case ${from}?`;
      const attempts = generateAttempts();
      if (from > 1)
        openai.hangNext({ path: CHAT, stream: true, containing: question, times: from - 1, dropAfterMs: 0 });
      openai.hangNext({
        path: CHAT,
        stream: true,
        containing: question,
        times: attempts - from + 1,
        dropAfterMs: justBeforeDeadlineMs('Generate and stream'),
      });

      // Act
      const result = await askThroughSlack(stack, question);

      // Assert
      expect(result.execution?.status).toBe('FAILED');
      expect(result.execution?.trace.find((t) => t.state === 'Generate and stream')?.attempts).toBe(attempts);
      expectApology(result);
    },
  );

  it.each([
    ['update', 'the placeholder being edited'],
    ['native', 'a message streamed natively'],
  ])(
    '%s streaming, hanging mid-stream on the last attempt, never dropped: %s is replaced by the apology',
    async (mode) => {
      // Arrange: earlier attempts cut off mid-stream at once, the last one stalls mid-stream for good.
      const question = `How do I rotate my VPN key when the ${mode} stream stalls?`;
      const attempts = generateAttempts();
      openai.hangNext({
        path: CHAT,
        stream: true,
        containing: question,
        times: attempts - 1,
        afterChunks: 3,
        dropAfterMs: 0,
      });
      openai.hangNext({ path: CHAT, stream: true, containing: question, times: 1, afterChunks: 3 });
      const own = mode === 'native' ? await startScaledStack('native') : undefined;
      const on = own?.stack ?? stack;

      try {
        // Act
        const result = await askThroughSlack(on, question);

        // Assert
        expect(result.execution?.status).toBe('FAILED');
        expect(result.execution?.trace.find((t) => t.state === 'Generate and stream')?.attempts).toBe(
          attempts,
        );
        expectApology(result, on);
        if (mode === 'native') expect(on.slack.calls.some((c) => c.method === 'chat.startStream')).toBe(true);
      } finally {
        await own?.close();
      }
    },
  );

  it('the longest path: a follow-up whose condensing and search hang before they answer, then an answer that hangs on every attempt', async () => {
    // Arrange: a thread with one answer, so the follow-up is condensed.
    const first = await askThroughSlack(stack, 'How do I rotate my VPN key?');
    expect(first.execution?.status).toBe('SUCCEEDED');
    const followUp = 'And how often must that happen, zebra?';
    openai.hangNext({
      path: CHAT,
      stream: false,
      containing: 'zebra',
      times: 1,
      dropAfterMs: justBeforeDeadlineMs('Condense question'),
    });
    openai.hangNext({
      path: EMBEDDINGS,
      containing: 'zebra',
      times: 1,
      dropAfterMs: justBeforeDeadlineMs('Retrieve'),
    });
    openai.hangNext({
      path: CHAT,
      stream: true,
      containing: 'zebra',
      times: generateAttempts(),
      dropAfterMs: justBeforeDeadlineMs('Generate and stream'),
    });

    // Act
    const result = await askThroughSlack(stack, followUp, { threadTs: first.sent.threadTs });

    // Assert
    expect(result.execution?.status).toBe('FAILED');
    const trace = result.execution?.trace ?? [];
    expect(trace.find((t) => t.state === 'Condense question')?.attempts).toBe(2);
    expect(trace.find((t) => t.state === 'Retrieve')?.attempts).toBe(2);
    expect(trace.find((t) => t.state === 'Report failure')?.outcome).toBe('succeeded');
    const replies = stack.slack
      .threadReplies(result.sent.channel, result.sent.threadTs)
      .filter((m) => m.bot_id !== undefined && !m.deleted && m.ts > result.sent.ts);
    expect(replies).toHaveLength(1);
    const shown = visibleText(replies[0] as never);
    expect(shown).not.toMatch(STILL_WORKING);
    expect(shown).toContain("Sorry, I couldn't answer this one");
  });
});
