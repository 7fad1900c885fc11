import { spawn } from 'node:child_process';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { cpuShareGroup, spawnWithCpuShare } from '../../scripts/bench/cpu-quota';
import { peakRssOf } from '../../scripts/bench/function-processes';
import {
  chunkCounter,
  corpusDocuments,
  distinctTerms,
  markdownSections,
  personQuestions,
  type TextSource,
} from '../../scripts/bench/real-corpus';
import {
  dependentDepth,
  firstByteDelay,
  LAMBDA_S3_MODEL,
  LAMBDA_S3_SPREAD_MODEL,
  startModeledS3,
} from '../../scripts/bench/s3-model';
import { percentile, seededRandom } from '../../scripts/bench/stats';
import { LOCAL_CREDENTIALS } from '../../stand-ins/aws/s3-local';

/**
 * The bench's harness for retrieval on real text (npm run bench -- --only retrievalReal): what it builds must be
 * what the section says it measures, or the figures in docs/performance.md mislead.
 */

const README = `# Widget toolkit

Widgets are small reusable components that render themselves into a container element.

## Installing the toolkit

Install the package with your usual package manager, then import the widgets you need into your application code.
The toolkit has no runtime dependencies and works in every current browser without polyfills.

\`\`\`sh
npm install widget-toolkit
\`\`\`

## Configuring themes

Each widget reads its colours and spacing from a theme object that you pass to the provider at the root of the tree.
Themes can be nested, so one part of a page may use a dark palette while the rest keeps the default light one.

| option | default |
| --- | --- |
| dark | false |
`;

const MANUAL = `# Backup scheduler

## Running a backup

The scheduler copies every configured directory to the remote store at the time given in its schedule file.
A backup that fails is retried three times with a growing pause before the operator is notified by mail.

## Restoring files

Restoring reads the newest complete snapshot unless another date is named on the command line.
Files that exist locally are never overwritten unless the force flag is given, so a restore is safe to repeat.
`;

function sourcesOf(texts: Record<string, string>): TextSource[] {
  return Object.entries(texts).map(([origin, text]) => {
    const { title, sections } = markdownSections(text);
    return { origin, title: title ?? origin, sections };
  });
}

async function firstDocuments(sources: TextSource[], count: number) {
  const documents = corpusDocuments(sources, await chunkCounter(1_000, 150));
  const out = [];
  for await (const document of documents) {
    out.push(document);
    if (out.length === count) break;
  }
  return out;
}

describe('the real-text corpus', () => {
  it('keeps a page’s prose and headings, and leaves its code and tables out', () => {
    const { title, sections } = markdownSections(README);

    expect(title).toBe('Widget toolkit');
    expect(sections.map((s) => s.heading)).toEqual([
      'Widget toolkit',
      'Installing the toolkit',
      'Configuring themes',
    ]);
    const prose = sections.flatMap((s) => s.paragraphs).join('\n');
    expect(prose).toContain('no runtime dependencies');
    expect(prose).not.toContain('npm install');
    expect(prose).not.toContain('| option');
  });

  it('grows past its sources with new pages in their own words, each of which the product’s ingest can split', async () => {
    const sources = sourcesOf({ 'widgets/README.md': README, 'backup/manual.md': MANUAL });

    const documents = await firstDocuments(sources, 8);

    expect(documents.every((d) => d.chunks > 0)).toBe(true);
    expect(new Set(documents.map((d) => d.markdown)).size).toBe(documents.length);
    // Every word of every page, the recombined ones included, is a word of the real sources: no invented vocabulary.
    const seen = new Set<string>();
    for (const text of [README, MANUAL])
      for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) seen.add(m[0]);
    const foreign = documents
      .flatMap((d) => [...(d.markdown.split('\n---\n')[1] ?? '').toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)])
      .map((m) => m[0])
      .filter((w) => !seen.has(w) && !/^\d+$/.test(w));
    expect(foreign).toEqual([]);
    expect(distinctTerms(documents.map((d) => d.markdown))).toBeGreaterThan(50);
  });

  it('makes the same documents every time, so a smaller table is the start of a larger one', async () => {
    const sources = sourcesOf({ 'widgets/README.md': README, 'backup/manual.md': MANUAL });

    const small = await firstDocuments(sources, 4);
    const large = await firstDocuments(sources, 8);

    expect(large.slice(0, 4).map((d) => d.markdown)).toEqual(small.map((d) => d.markdown));
  });

  it('asks questions as a person would, not in the documents’ own sentences', async () => {
    const documents = await firstDocuments(
      sourcesOf({ 'widgets/README.md': README, 'backup/manual.md': MANUAL }),
      8,
    );

    const questions = personQuestions(documents, 10, 1);

    expect(questions.length).toBeGreaterThanOrEqual(5);
    expect(new Set(questions).size).toBe(questions.length);
    for (const question of questions) {
      expect(documents.some((d) => d.markdown.includes(question))).toBe(false);
      expect(question.split(' ').length).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('the S3 model', () => {
  it('draws a time to first byte around 25 ms with a long tail, or exactly 25 ms without a spread', () => {
    const random = seededRandom(1);
    const draws = Array.from({ length: 20_000 }, () => firstByteDelay(LAMBDA_S3_SPREAD_MODEL, random));

    expect(percentile(draws, 50)).toBeGreaterThan(23);
    expect(percentile(draws, 50)).toBeLessThan(27);
    // A lognormal of sigma 0.6: the 95th percentile is e^(0.6 × 1.645) ≈ 2.7 times the median.
    expect(percentile(draws, 95) / percentile(draws, 50)).toBeGreaterThan(2.4);
    expect(percentile(draws, 95) / percentile(draws, 50)).toBeLessThan(3);
    expect(firstByteDelay(LAMBDA_S3_MODEL, random)).toBe(25);
  });

  it('counts round trips waited in turn, not requests sent side by side', () => {
    const request = (at: number, end: number) => ({
      at,
      end,
      kind: 'get' as const,
      key: 'k',
      bytes: 1,
      port: 1,
    });

    // Three in parallel, then one that needed them, then two in parallel that needed it.
    const records = [
      request(0, 25),
      request(1, 26),
      request(2, 24),
      request(30, 55),
      request(60, 85),
      request(60, 90),
    ];

    expect(dependentDepth(records)).toBe(3);
    expect(dependentDepth([])).toBe(0);
  });

  it('logs which prefix a LIST asked for, so a question’s LISTs can be traced to their call', async () => {
    const s3 = await startModeledS3('bench-list', LAMBDA_S3_MODEL);
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await client.send(
        new ListObjectsV2Command({ Bucket: 'bench-list', Prefix: 'real/documents.lance/_versions/' }),
      );

      expect(s3.log.map((r) => [r.kind, r.prefix])).toEqual([['list', 'real/documents.lance/_versions/']]);
    } finally {
      client.destroy();
      await s3.close();
    }
  });
});

describe('Lambda’s CPU share for a child process', () => {
  const share = 0.3;
  // Busy for 1.5 s, then reports its CPU time and its age (both in ms since the process started, boot included).
  const busy =
    'const s = Date.now(); while (Date.now() - s < 1500) {} const u = process.cpuUsage(); process.stdout.write(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, ageMs: performance.now() }));';

  async function cpuMsOfBusyChild(cgroup: boolean) {
    const { child, method, release } = await spawnWithCpuShare(
      process.execPath,
      ['-e', busy],
      { stdio: ['ignore', 'pipe', 'inherit'] },
      share,
      { cgroup },
    );
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    await new Promise((resolve) => child.once('exit', resolve));
    await release();
    return { method, ...(JSON.parse(out) as { cpuMs: number; ageMs: number }) };
  }

  it.each([true, false])(
    'holds a busy process to its share of one CPU (cgroup allowed: %s)',
    async (cgroup) => {
      const { method, cpuMs } = await cpuMsOfBusyChild(cgroup);

      // 1.5 s of wall clock: at most about a third of it in CPU time (and a quota period's slack), never 1.5 s.
      expect(method).not.toBe('none');
      if (!cgroup) expect(method).toBe('duty-cycle SIGSTOP/SIGCONT');
      expect(cpuMs).toBeGreaterThan(0);
      expect(cpuMs).toBeLessThan(1500 * share + 250);
    },
  );
});

describe('A function’s own process, as the scale section measures Commit and Optimize', () => {
  it('is the command itself inside the CPU group, and its peak memory is read from it, not from the bench', async () => {
    const group = await cpuShareGroup(1);
    // Touches 300 MB, frees it, reports its pid, then waits to be ended.
    const script =
      'let b = Buffer.alloc(300 * 1024 * 1024, 1); b = null; process.stdout.write(String(process.pid)); setInterval(() => {}, 1000);';
    const options = { stdio: ['ignore', 'pipe', 'inherit'] as ('ignore' | 'pipe' | 'inherit')[] };
    const child =
      group?.spawn(process.execPath, ['-e', script], options) ??
      spawn(process.execPath, ['-e', script], options);
    try {
      const reported = await new Promise<string>((resolve) =>
        child.stdout?.once('data', (c: Buffer) => resolve(c.toString())),
      );

      // The shell that joins the group becomes the command: the pid measured is Node's own.
      expect(Number(reported)).toBe(child.pid);
      // The peak stays after the memory is given back; this process never held it.
      const peak = await peakRssOf(child.pid as number);
      expect(peak).toBeGreaterThan(300 * 1024 * 1024);
      expect(peak).toBeLessThan(600 * 1024 * 1024);
    } finally {
      child.kill();
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
      await group?.release();
    }
    expect(await peakRssOf(child.pid as number)).toBe(0);
  });
});

describe('A function’s memory, as Lambda holds it', () => {
  it('sizes Node for the configured memory and kills a process that goes over it', async () => {
    const group = await cpuShareGroup(1, { memoryMb: 256 });
    if (group?.memoryLimit === undefined) {
      // No writable memory cgroup here: the scale section reports that no limit could be set.
      expect(group?.memoryLimit).toBeUndefined();
      return;
    }
    const run = async (script: string) => {
      const child = group.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
      return { out, signal };
    };
    try {
      const sized = await run(
        'process.stdout.write(JSON.stringify([process.constrainedMemory(), require("v8").getHeapStatistics().heap_size_limit]))',
      );
      const [constrained, heapLimit] = JSON.parse(sized.out) as [number, number];
      expect(constrained).toBe(256 * 1024 * 1024);
      // About the memory itself at this size (half of it at 2,048 MB), where this machine's 24 GiB gives 4 GB.
      expect(heapLimit).toBeLessThan(512 * 1024 * 1024);

      // 400 MB touched outside the JS heap: more than the function has.
      const over = await run(
        'const b = Buffer.alloc(400 * 1024 * 1024, 1); process.stdout.write(String(b.length))',
      );
      expect(over).toEqual({ out: '', signal: 'SIGKILL' });
      expect(await group.oomKills()).toBe(1);
    } finally {
      await group.release();
    }
  });
});
