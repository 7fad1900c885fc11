import { writeFile } from 'node:fs/promises';
import { type ConversationTable, openConversationTable } from './feedback/conversation-table';
import { type ExportResult, exportFeedback, toEvalSet } from './feedback/export';
import { defineCommand, EXIT, type ParsedCommand, runCommand, UsageError } from './local/cli';

/**
 * `npm run feedback -- export [--since DATE] [--negative] [--json] [--out FILE]`: the questions people voted on
 * (👍 / 👎 under an answer), read from the conversation table, written as an eval set that `npm run eval` reads.
 */

const DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

const FEEDBACK = defineCommand({
  name: 'feedback',
  synopsis: 'export [--since DATE] [--negative] [--json] [--out FILE]',
  summary:
    'Exports the questions people voted on under an answer as eval lines (JSONL) that `npm run eval` reads:\n' +
    'a question voted right with the sources its answer listed and the answer as reference; a question voted\n' +
    'wrong with no sources (unknown: fill them in) and a note with the votes and comments. Follow-ups keep their\n' +
    "thread's earlier turns. No Slack user id leaves the table: mentions of people, channels and groups and\n" +
    'e-mail addresses become @user, #channel, @group, [email] (comments are free text: review the file). Reads\n' +
    '.local/dynamodb (through a running `npm run dev` if one holds it), or the deployed table when\n' +
    'CONVERSATION_TABLE (and AWS_REGION) are set, with the usual AWS credentials.',
  options: {
    since: {
      type: 'string',
      valueName: 'DATE',
      description: 'only questions with a vote given at or after DATE (2026-11-01, or an ISO time, UTC)',
      validate: (value: string) =>
        DATE.test(value) && !Number.isNaN(Date.parse(value))
          ? undefined
          : `--since takes a date such as 2026-11-01 or 2026-11-01T09:00Z, not ${JSON.stringify(value)}`,
    },
    negative: { type: 'boolean', description: 'only the questions someone voted wrong (👎)' },
    out: {
      type: 'string',
      valueName: 'FILE',
      description: 'write the eval set to FILE (else to stdout), and say how many lines on stdout',
    },
    json: {
      type: 'boolean',
      description:
        'print one JSON object: {"source","scanned","exported","positive","negative","out",\n' +
        '"questions":[{eval line…, "verdict","votes":[{"vote","at","comment","voter"}],"askedAt",\n' +
        '"standaloneQuestion","answer","answerSources","model"}]}; voters are hashed, differently at each export',
    },
  },
  positionals: { name: 'the subcommand: export', min: 1 },
  examples: [
    'npm run feedback -- export --negative --since 2026-11-01 --out samples/eval/from-users.jsonl',
    'npm run eval -- samples/eval/from-users.jsonl',
    'CONVERSATION_TABLE=SlackRagBot-ConversationTable-ABC AWS_REGION=eu-west-1 npm run feedback -- export --json',
  ],
  exitCodes: {
    0: 'exported (possibly no question, when nobody voted)',
    1: 'the table could not be read (the reason is printed), or FILE could not be written',
    2: 'usage error',
  },
  notes:
    'A question voted wrong is exported with "sources": [], which npm run eval reads as "the documents cannot\n' +
    'answer it": replace it with the sections that do answer it (such as "vpn-guide.md#Rotating your VPN key")\n' +
    'unless that is so. The `//` note above each line (votes, comments, date) is skipped by npm run eval.',
});

async function main({ values, positionals }: ParsedCommand<typeof FEEDBACK.options>): Promise<number> {
  const [subcommand, ...rest] = positionals;
  if (subcommand !== 'export') {
    throw new UsageError(`unknown subcommand ${JSON.stringify(subcommand)}; the one subcommand is export`);
  }
  if (rest.length > 0)
    throw new UsageError(`export takes no arguments, and was given ${JSON.stringify(rest.join(' '))}`);
  const table: ConversationTable = await openConversationTable();
  let result: ExportResult;
  try {
    result = await exportFeedback(table.client, table.tableName, {
      ...(values.since !== undefined ? { since: Date.parse(values.since) } : {}),
      negativeOnly: values.negative === true,
    });
  } catch (error) {
    throw new Error(`could not read the feedback from ${table.where}`, { cause: error });
  } finally {
    await table.close();
  }
  const evalSet = toEvalSet(result, new Date());
  if (values.out !== undefined) {
    try {
      await writeFile(values.out, evalSet, 'utf8');
    } catch (error) {
      throw new Error(`could not write ${values.out}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  }
  const negative = result.turns.filter((t) => t.verdict === 'negative').length;
  const positive = result.turns.length - negative;
  if (values.json === true) {
    console.log(
      JSON.stringify({
        source: table.where,
        scanned: result.scanned,
        exported: result.turns.length,
        positive,
        negative,
        out: values.out ?? null,
        questions: result.turns.map(({ line, ...details }) => ({ ...line, ...details })),
      }),
    );
    return EXIT.ok;
  }
  if (values.out === undefined) process.stdout.write(evalSet);
  const summary =
    result.turns.length === 0
      ? `no question with ${values.negative ? 'a 👎 vote' : 'a vote'}${values.since ? ` since ${values.since}` : ''} in ${table.where}`
      : `exported ${result.turns.length} question(s) from ${table.where}: ${positive} voted right, ${negative} voted wrong` +
        (values.out !== undefined
          ? ` to ${values.out}\n${negative > 0 ? `fill in the expected sources of the ${negative} voted wrong (see the notes), then ` : ''}run: npm run eval -- ${values.out}`
          : '');
  // With the eval set on stdout, the summary goes to stderr so that `> file` keeps the file clean.
  if (values.out === undefined) console.error(summary);
  else console.log(summary);
  return EXIT.ok;
}

runCommand(FEEDBACK, main);
