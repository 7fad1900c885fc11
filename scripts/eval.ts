import { parseArgs } from 'node:util';
import { needsUserGroups } from '../functions/core/access/reach';
import { type AppConfig, type Env, loadConfig } from '../functions/core/config';
import { groupsOfUser, listGroups } from './access/user-group-source';
import { type EvalQuestion, readEvalSet } from './eval/dataset';
import { gradeRuns } from './eval/grade';
import { checkThresholds, parseThreshold, summarize, type Threshold } from './eval/metrics';
import { jsonOf, questionTable, type RunReport, summaryTable, thresholdLines } from './eval/report';
import { type RunSettings, runEval, settingsFor } from './eval/run';
import { readVariants, type Variant } from './eval/variants';
import { startLocalBedrock } from './local/bedrock-stand-in';
import { localLanceDbUri, shellSettings, withoutMetricLines } from './local/cli-env';
import { ProgressBar } from './local/progress-bar';

const USAGE = `usage: npm run eval -- [--json] [--docs PATH…] [--compare FILE…] [--min METRIC=VALUE…] [--grade] questions.jsonl

Runs each question of the eval set through the product's own steps (condense for a follow-up, retrieve, the answer
chain) with the configured provider and vector store (LANCEDB_URI, else .local/lancedb as npm run ingest builds it),
and reports per question and in total: retrieval hit@1, hit@3, hit@k and MRR, whether the answer was given and
cites an expected source, refusals of unanswerable questions, the answer's language, latency per step, tokens
and their cost.

  --docs PATH       index these documents (folders, files or globs) into a temporary directory through the
                    ingest workflow and evaluate against that instead of the configured store; repeatable
  --compare FILE    also run the variants of FILE (JSON: {"name","topK","search":"hybrid"|"vector","chunkSize",
                    "chunkOverlap","prompt":"prompt.txt","model","docs"}, or a list of them) and show them side by
                    side; repeatable. Chunk settings re-index the documents (--docs) into a temporary table.
  --min METRIC=V    exit 1 when the configured run's METRIC is below V (0 to 1); repeatable. Metrics: hit@N, mrr,
                    answered, cited, source-precision, declined (= refusal-recall), refusal-precision, language
  --grade           also have an OpenAI model (EVAL_GRADER_MODEL, default gpt-4.1-mini) grade each answer's
                    faithfulness to its passages and agreement with the reference; needs OPENAI_API_KEY, and
                    prints its estimated cost before any call
  --json            print one JSON object instead of tables
  --help            print this

Each line of questions.jsonl: {"id","question","sources":["vpn-guide.md#Troubleshooting"],"reference",
"thread":[{"role":"human"|"ai","content"}],"language":"en"|"ja","user":"U…","channel":"C…"}; "sources": [] for a
question the documents cannot answer (or that this "user" may not have answered: asked as that person, in "channel"
or a DM, within COLLECTION_AUDIENCES and CHANNEL_COLLECTIONS). See samples/eval/questions.jsonl.

exit codes:
  0    done, every --min threshold met
  1    a --min threshold not met, or the run failed
  2    usage error`;

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

class UsageError extends Error {
  override name = 'UsageError';
}

interface Options {
  json: boolean;
  grade: boolean;
  docs: string[];
  compare: string[];
  thresholds: Threshold[];
  questionsPath: string;
}

function parseOptions(argv: string[]): Options | 'help' {
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; args: string[] }>
  >;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'name the eval set (a .jsonl file)'
        : `one eval set at a time; got ${positionals.join(', ')}`,
    );
  }
  let thresholds: Threshold[];
  try {
    thresholds = (values.min ?? []).map(parseThreshold);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    json: values.json ?? false,
    grade: values.grade ?? false,
    docs: values.docs ?? [],
    compare: values.compare ?? [],
    thresholds,
    questionsPath: positionals[0] as string,
  };
}

const OPTIONS = {
  json: { type: 'boolean' },
  grade: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  docs: { type: 'string', multiple: true },
  compare: { type: 'string', multiple: true },
  min: { type: 'string', multiple: true },
} as const;

/** The model and store settings of the shell, as the other local commands take them, plus the chunking. */
function evalEnv(env: Env = process.env): Env {
  const chunking = ['INGEST_CHUNK_SIZE', 'INGEST_CHUNK_OVERLAP'].filter((name) => env[name] !== undefined);
  return {
    ...shellSettings(env),
    ...Object.fromEntries(chunking.map((name) => [name, env[name]])),
    LANCEDB_URI: localLanceDbUri(env),
  };
}

function baseSettings(env: Env, docs: string[]): RunSettings {
  const config = loadConfig(env);
  const key = config.secrets.openaiApiKey;
  if (key !== undefined && !('value' in key))
    throw new UsageError('npm run eval takes OPENAI_API_KEY as a value, not an ARN');
  const lancedbKey = config.secrets.lancedbApiKey;
  if (lancedbKey !== undefined && !('value' in lancedbKey))
    throw new UsageError('npm run eval takes LANCEDB_API_KEY as a value, not an ARN');
  const cloud = config.vectorStore.cloud;
  return {
    name: 'configured',
    llm: config.llm,
    apiKey: key?.value,
    lancedbUri: config.vectorStore.uri,
    ...(cloud === undefined ? {} : { lancedbCloud: { apiKey: lancedbKey?.value ?? '', ...cloud } }),
    table: config.vectorStore.table,
    topK: config.vectorStore.topK,
    search: 'hybrid',
    ...(docs.length === 0 ? {} : { reindex: { docs, env } }),
  };
}

/**
 * For questions that name their asker: the access settings of the shell, and the user groups from the source
 * `npm run access` reads (Slack with SLACK_BOT_TOKEN, a running `npm run dev`, or LOCAL_SLACK_USERGROUPS). Without
 * a source, groups are unknown and only what is open to everyone is read, as the bot does when Slack cannot say.
 */
async function accessFor(settings: AppConfig['access']): Promise<NonNullable<RunSettings['access']>> {
  const listing = needsUserGroups(settings) ? await listGroups(process.env) : undefined;
  if (listing !== undefined && 'unavailable' in listing) {
    console.error(
      `eval: user groups unknown (${listing.unavailable}); questions with "user" read only what is open to everyone`,
    );
  }
  return {
    settings,
    groupsOf: (user) =>
      listing === undefined ? new Set() : 'unavailable' in listing ? undefined : groupsOfUser(listing, user),
  };
}

export async function main(argv: string[]): Promise<number> {
  // LLM_PROVIDER=bedrock: the Bedrock stand-in answers, as for the other local commands.
  const bedrock = await startLocalBedrock(evalEnv());
  try {
    return await evaluate(argv, bedrock.env);
  } finally {
    await bedrock.close();
  }
}

async function evaluate(argv: string[], standIns: Env): Promise<number> {
  let options: Options | 'help';
  let questions: EvalQuestion[];
  let variants: Variant[] = [];
  let settings: RunSettings[];
  try {
    options = parseOptions(argv);
    if (options === 'help') {
      console.log(USAGE);
      return EXIT.ok;
    }
    questions = await readEvalSet(options.questionsPath);
    for (const file of options.compare) variants = [...variants, ...(await readVariants(file))];
    const env = { ...evalEnv(), ...standIns };
    const base = baseSettings(env, options.docs);
    if (options.grade && (base.apiKey === undefined || base.apiKey === '')) {
      throw new UsageError('--grade needs an OpenAI model to grade with: set OPENAI_API_KEY');
    }
    if (questions.some((q) => q.user !== undefined)) base.access = await accessFor(loadConfig(env).access);
    settings = [
      base,
      ...variants.map((v) => settingsFor(base, v, options === 'help' ? [] : options.docs, env)),
    ];
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT.usage;
  }

  const progress = new ProgressBar();
  const total = questions.length * settings.length;
  const runs: RunReport[] = [];
  try {
    for (const [i, run] of settings.entries()) {
      const outcome = await runEval(questions, run, (done, _, phase) =>
        progress.update(phase, i * questions.length + done, total),
      );
      runs.push({ name: run.name, outcome, summary: summarize(outcome) });
    }
    progress.clear();
    if (options.grade) await gradeRuns(runs, questions, settings[0] as RunSettings, options.json);
  } catch (error) {
    progress.clear();
    console.error(`eval failed: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failed;
  }

  const first = runs[0] as RunReport;
  const checks = checkThresholds(options.thresholds, first.summary, first.outcome.results);
  if (options.json) {
    console.log(JSON.stringify(jsonOf(runs, checks, options.questionsPath)));
  } else {
    console.log(questionTable(first.outcome.results));
    console.log('');
    console.log(summaryTable(runs));
    if (checks.length > 0) console.log(`\n${thresholdLines(checks, first.name)}`);
  }
  return checks.every((c) => c.passed) ? EXIT.ok : EXIT.failed;
}

if (require.main === module) {
  // Indexing --docs runs the ingest steps, which emit metrics (EMF on stdout): they would break --json.
  withoutMetricLines();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = EXIT.failed;
    },
  );
}
