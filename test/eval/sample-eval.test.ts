import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/local/stack';
import { startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { ingestWorkspace } from '../support/ingest';

/**
 * `npm run eval` on the shipped eval set, as CI runs it: the sample documents synced into a temporary store through
 * the product's ingest workflow, then the real script in a child process on the offline `local` provider, gated by
 * the targets of issue 13 (retrieval hit@3, answerable answered and unanswerable declined, each at least 0.9).
 */

jest.setTimeout(180_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const QUESTIONS = join(REPO_ROOT, 'samples/eval/questions.jsonl');

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

function runEval(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = {};
  // Only what a shell needs: none of the developer's model, store or endpoint settings leak into the test.
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG'])
    if (process.env[name]) childEnv[name] = process.env[name];
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), join(REPO_ROOT, 'scripts/eval.ts'), ...args],
    {
      cwd: workspace.root,
      env: { ...childEnv, LLM_PROVIDER: 'local', LANCEDB_URI: workspace.lancedbUri, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

interface EvalJson {
  passed: boolean;
  thresholds: { metric: string; min: number; value: number | null; passed: boolean }[];
  runs: {
    name: string;
    model: string;
    topK: number;
    search: string;
    indexedChunks?: number;
    summary: Record<string, unknown> & {
      questions: number;
      answerable: number;
      unanswerable: number;
      hit3: number;
      answered: number;
      declined: number;
      cited: number;
      language: number;
      sourcesUnderDeclines: number;
    };
    results: {
      id: string;
      answerable: boolean;
      declined: boolean;
      answer: string;
      sources: { source: string; heading: string }[];
      standalone: string;
      followUp: boolean;
    }[];
  }[];
}

beforeAll(async () => {
  // Every sample, the PDF and the Word file among them, as `npm run dev` indexes them on its first start.
  workspace = await ingestWorkspace({ samples: 'all' });
  const ingest = await workspace.start();
  try {
    const synced = await ingest.sync({ origins: ['docs'], prune: true });
    expect(synced.status).toBe('committed');
  } finally {
    await ingest.close();
  }
});

afterAll(async () => {
  await workspace?.remove();
});

describe('npm run eval on the shipped eval set, offline', () => {
  let result: EvalJson;

  it('meets the targets and exits 0', async () => {
    // Act
    const run = await runEval([
      '--json',
      '--min',
      'hit@3=0.9',
      '--min',
      'answered=0.9',
      '--min',
      'declined=0.9',
      QUESTIONS,
    ]);

    // Assert
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    result = JSON.parse(run.stdout) as EvalJson;
    expect(result.passed).toBe(true);
    const [configured] = result.runs;
    expect(configured?.model).toBe('local-extractive');
    expect(configured?.search).toBe('hybrid');
    expect(configured?.summary).toMatchObject({ questions: 46, answerable: 37, unanswerable: 9 });
    expect(configured?.summary.hit3).toBeGreaterThanOrEqual(0.9);
    expect(configured?.summary.answered).toBeGreaterThanOrEqual(0.9);
    expect(configured?.summary.declined).toBeGreaterThanOrEqual(0.9);
    expect(configured?.summary.cited).toBeGreaterThanOrEqual(0.8);
    // The one miss: a Japanese question answered by quoting an English document (the offline model cannot translate).
    expect(configured?.summary.language).toBeGreaterThanOrEqual(0.95);
    expect(result.thresholds.map((t) => [t.metric, t.passed])).toEqual([
      ['hit@3', true],
      ['answered', true],
      ['declined', true],
    ]);
  });

  it('lists no source under a decline, and under each answer only sections it cites', () => {
    // Arrange
    const results = result.runs[0]?.results ?? [];

    // Assert
    expect(result.runs[0]?.summary.sourcesUnderDeclines).toBe(0);
    for (const r of results.filter((x) => x.declined)) expect(r.sources).toEqual([]);
    for (const r of results.filter((x) => !x.declined)) {
      expect(r.sources.length).toBeGreaterThan(0);
      expect(r.answer).toMatch(/\[\d+\]/);
    }
  });

  it('answers the questions a person would ask in the words they would use', () => {
    // Arrange
    const byId = new Map((result.runs[0]?.results ?? []).map((r) => [r.id, r]));

    // Assert: a question the right section answers is answered from it, one the documents lack is declined.
    expect(byId.get('vpn-install')?.answer).toContain(
      'Install the `corpvpn` client from the Self Service portal',
    );
    expect(byId.get('monitor')?.answer).toContain('Equipment over 300 EUR must be ordered through IT');
    expect(byId.get('ja-sick')?.answer).toContain('当日の始業前にマネージャーへSlackで連絡');
    expect(byId.get('mfa')?.declined).toBe(true);
    expect(byId.get('dog-in-office')?.declined).toBe(true);
    // From the PDF, the Word file (a table row) and the Markdown, each by its own section.
    expect(byId.get('travel-hotel-limit')?.answer).toContain('180 euros in capital cities');
    expect(byId.get('equipment-laptop-replaced')?.answer).toMatch(/\| Laptop \| 4 years \| IT desk \|/);
    expect(byId.get('lost-laptop')?.answer).toContain('The IT desk wipes a lost laptop remotely');
    expect(byId.get('ja-cafeteria')?.answer).toBe('ドキュメントにはこの質問への答えが見つかりませんでした。');
  });

  it('condenses a follow-up with its thread before retrieving', () => {
    // Arrange
    const followUp = result.runs[0]?.results.find((r) => r.id === 'followup-rotate-often');

    // Assert
    expect(followUp?.followUp).toBe(true);
    expect(followUp?.standalone).toMatch(/^How often do I have to do that\? \(about: .*VPN key/);
    expect(followUp?.sources.map((s) => s.heading)).toEqual(['Rotating your VPN key']);
  });

  it('answers a line as the person it names: the HR question answered for a group member, declined for another', async () => {
    // Arrange: the people collection (onboarding, leave) open only to S0HRTEAM01, whose one member is Alice.
    const set = join(workspace.root, 'reach.jsonl');
    const groups = join(workspace.root, 'usergroups.json');
    const question = 'What does the hiring manager order before day one?';
    await writeFile(groups, JSON.stringify({ S0HRTEAM01: ['U0ALICE001'] }));
    await writeFile(
      set,
      [
        { id: 'alice', question, user: 'U0ALICE001', sources: ['onboarding.md#Before day one'] },
        { id: 'bob', question, user: 'U0BOB00001', sources: [] },
        { id: 'bob-exported', question, reach: { closed: ['people'] }, sources: [] },
        { id: 'anyone', question, sources: ['onboarding.md#Before day one'] },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
    );

    // Act
    const run = await runEval(['--json', set], {
      COLLECTION_AUDIENCES: JSON.stringify({ people: ['S0HRTEAM01'] }),
      LOCAL_SLACK_USERGROUPS: groups,
    });

    // Assert
    expect(run.code).toBe(0);
    const [configured] = (JSON.parse(run.stdout) as EvalJson).runs;
    const byId = Object.fromEntries((configured?.results ?? []).map((r) => [r.id, r]));
    expect(byId.alice?.declined).toBe(false);
    expect(byId.alice?.sources.map((s) => s.source)).toContain('docs/onboarding.md');
    expect(byId.bob?.declined).toBe(true);
    expect(byId['bob-exported']?.declined).toBe(true);
    expect(byId.anyone?.declined).toBe(false);
  });

  it('exits 1 and names the metric when a threshold is not met', async () => {
    // Act
    const run = await runEval(['--min', 'hit@1=0.99', QUESTIONS]);

    // Assert
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL hit@1 = 0\.\d\d \(at least 0\.99\) on configured/);
    expect(run.stdout).toContain('| retrieval hit@3');
  });

  it('compares variants side by side, re-indexing the documents for a chunk size', async () => {
    // Arrange
    const variants = join(workspace.root, 'variants.json');
    await writeFile(
      variants,
      JSON.stringify([
        { name: 'top-k 3, vector', topK: 3, search: 'vector' },
        { name: 'chunks 300', chunkSize: 300, chunkOverlap: 40 },
      ]),
    );

    // Act
    const run = await runEval(['--json', '--docs', 'docs', '--compare', variants, QUESTIONS]);

    // Assert
    expect(run.code).toBe(0);
    const compared = JSON.parse(run.stdout) as EvalJson;
    expect(compared.runs.map((r) => [r.name, r.topK, r.search])).toEqual([
      ['configured', 6, 'hybrid'],
      ['top-k 3, vector', 3, 'vector'],
      ['chunks 300', 6, 'hybrid'],
    ]);
    const [configured, , small] = compared.runs;
    expect(small?.indexedChunks).toBeGreaterThan(configured?.indexedChunks ?? 0);
    for (const r of compared.runs) expect(r.summary.questions).toBe(46);
  });

  it('compares assistants per channel: a profile of CHANNEL_PROFILES by channel id, or one written in the variant', async () => {
    // Arrange
    const variants = join(workspace.root, 'profile-variants.json');
    await writeFile(
      variants,
      JSON.stringify([
        { name: '#support', profile: 'C0SUPPORT1' },
        { name: 'brief', profile: { instructions: 'Answer in one sentence.', topK: 3 } },
      ]),
    );
    const profiles = JSON.stringify({ C0SUPPORT1: { model: 'local-support', topK: 2 } });

    // Act
    const run = await runEval(['--json', '--compare', variants, QUESTIONS], { CHANNEL_PROFILES: profiles });
    const missing = await runEval(['--compare', variants, QUESTIONS]);

    // Assert
    expect(run.code).toBe(0);
    const compared = JSON.parse(run.stdout) as EvalJson;
    expect(compared.runs.map((r) => [r.name, r.model, r.topK])).toEqual([
      ['configured', 'local-extractive', 6],
      ['#support', 'local-support', 2],
      ['brief', 'local-extractive', 3],
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('names the profile of C0SUPPORT1, but CHANNEL_PROFILES is not set');
  });

  it('refuses bad arguments with exit code 2, the reason and the usage', async () => {
    // Act
    const runs = await Promise.all([
      runEval(['--bogus', QUESTIONS]),
      runEval(['--min', 'hit@3=high', QUESTIONS]),
      runEval(['--min', 'speed=0.5', QUESTIONS]),
      runEval([]),
      runEval(['missing.jsonl']),
    ]);

    // Assert
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('usage: npm run eval --');
    }
    expect(runs[0]?.stderr).toContain("Unknown option '--bogus'");
    expect(runs[1]?.stderr).toContain('--min takes METRIC=VALUE');
    expect(runs[2]?.stderr).toContain('unknown metric "speed"');
    expect(runs[3]?.stderr).toContain('name the eval set');
    expect(runs[4]?.stderr).toContain('cannot read the eval set missing.jsonl: ENOENT');
  });
});

describe('npm run eval --grade', () => {
  it('prints the estimated cost first, then grades each answer with an OpenAI model, not the declines', async () => {
    // Arrange: two answerable questions and one the documents do not answer; the grader is a fake OpenAI server.
    const fake = await startFakeOpenAI();
    const questions = join(workspace.root, 'graded.jsonl');
    await writeFile(
      questions,
      [
        {
          id: 'rotate',
          question: 'How do I rotate my VPN key?',
          sources: ['vpn-guide.md'],
          reference: 'Run corpvpn rotate-key.',
        },
        { id: 'leave', question: '有給休暇は何日ありますか？', sources: ['leave-policy-ja.md'] },
        { id: 'mfa', question: 'Is MFA required?', sources: [] },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
    );
    fake.script(
      '{"faithful": 1, "agrees": 1, "reason": "Quotes the rotation steps."}',
      '{"faithful": 0.5, "agrees": null, "reason": "Partly supported."}',
    );

    try {
      // Act
      const run = await runEval(['--json', '--grade', questions], {
        OPENAI_API_KEY: 'sk-test-grade',
        OPENAI_BASE_URL: fake.url,
      });

      // Assert
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(
        /^model-graded check: 2 calls to gpt-4\.1-mini, about \d+ input and 120 output tokens, about \$0\.\d{4}\n$/,
      );
      const graded = JSON.parse(run.stdout) as {
        runs: {
          grades: { id: string; faithful: number; agrees: number | null }[];
          faithfulness: number;
          agreement: number;
        }[];
      };
      expect(graded.runs[0]?.grades.map((g) => [g.id, g.faithful, g.agrees])).toEqual([
        ['rotate', 1, 1],
        ['leave', 0.5, null],
      ]);
      expect(graded.runs[0]?.faithfulness).toBe(0.75);
      expect(graded.runs[0]?.agreement).toBe(1);
      const chats = fake.requests.filter((r) => r.path === '/v1/chat/completions');
      expect(chats).toHaveLength(2);
      expect(JSON.stringify(chats[0]?.body)).toContain('Run corpvpn rotate-key.');
    } finally {
      await fake.close();
    }
  });

  it('refuses --grade without an OpenAI key, as a usage error', async () => {
    // Act
    const run = await runEval(['--grade', QUESTIONS]);

    // Assert
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--grade needs an OpenAI model to grade with: set OPENAI_API_KEY');
  });
});
