import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONVERSATION_STEPS, METRIC, VOTES } from '../../functions/core/metric-names';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../functions/core/metrics';
import { BotConfigError } from '../../infra/config';
import { priceOf } from '../../scripts/eval/prices';
import { type CfnResource, REPO_ROOT, resourcesOf, synthWithoutBundling } from './synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation and dashboard JSON
type Json = any;

/** The dashboard's body as JSON: CloudFormation joins it with the region's Ref, which is replaced here. */
function dashboardBody(resource: CfnResource): Json {
  const body = resource.Properties.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : (body['Fn::Join'][1] as Json[]).map((part) => (typeof part === 'string' ? part : 'REGION')).join('');
  return JSON.parse(text);
}

/** Every metric the dashboard reads: [name, dimensions, stat] from each graph, and the names its SEARCHes match. */
function metricsRead(body: Json): { name: string; dimensions: Record<string, string>; stat?: string }[] {
  const read: { name: string; dimensions: Record<string, string>; stat?: string }[] = [];
  for (const widget of body.widgets) {
    for (const row of widget.properties?.metrics ?? []) {
      const options = typeof row[row.length - 1] === 'object' ? row[row.length - 1] : {};
      if (typeof row[0] === 'string') {
        const values = row.filter((v: unknown) => typeof v === 'string') as string[];
        const [namespace, name, ...pairs] = values;
        expect(namespace).toBe(METRICS_NAMESPACE);
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
        read.push({ name: name as string, dimensions, stat: options.stat });
      }
      const search = /SEARCH\('\{([^}]*)\} MetricName="(\w+)"/.exec(options.expression ?? '');
      if (search) {
        const [namespace, ...dimensionNames] = (search[1] as string).split(',');
        expect(namespace).toBe(METRICS_NAMESPACE);
        read.push({
          name: search[2] as string,
          dimensions: Object.fromEntries(dimensionNames.map((d) => [d, '*'])),
        });
      }
    }
  }
  return read;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(REPO_ROOT, dir, file));
}

/**
 * The metric names the functions emit, read from their sources: `METRIC.X` wherever it is used, and any name written
 * as a literal to `count('…')` or `addMetric('…')` (which must be one of metric-names.ts too).
 */
function namesInSources(): { viaModule: Set<string>; literals: { name: string; file: string }[] } {
  const viaModule = new Set<string>();
  const literals: { name: string; file: string }[] = [];
  for (const file of sourceFiles('functions')) {
    if (file.endsWith('metric-names.ts')) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\bMETRIC\.(\w+)/g)) viaModule.add(match[1] as string);
    for (const match of text.matchAll(/\b(?:count|addMetric)\(\s*['"`](\w+)['"`]/g)) {
      literals.push({ name: match[1] as string, file: relative(REPO_ROOT, file) });
    }
  }
  return { viaModule, literals };
}

describe('the usage dashboard', () => {
  const { template } = synthWithoutBundling();
  const dashboards = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
  const body = dashboardBody((dashboards[0] as [string, CfnResource])[1]);
  const read = metricsRead(body);
  const allNames = Object.values(METRIC) as string[];

  it('is one dashboard in the stack, named after it', () => {
    expect(dashboards).toHaveLength(1);
    expect((dashboards[0] as [string, CfnResource])[1].Properties.DashboardName).toBe('SlackRagBot-usage');
  });

  it('reads exactly the metrics the functions emit (metric-names.ts), every one with the service dimension', () => {
    expect([...new Set(read.map((m) => m.name))].sort()).toEqual([...allNames].sort());
    for (const metric of read) expect(metric.dimensions.service).toBeDefined();
  });

  it('every metric of metric-names.ts is emitted by the functions, and no other name is', () => {
    const { viaModule, literals } = namesInSources();
    for (const literal of literals)
      expect({ ...literal, known: allNames.includes(literal.name) }).toEqual({ ...literal, known: true });
    const emitted = new Set([...viaModule, ...literals.map((l) => l.name)]);
    expect([...emitted].filter((name) => !allNames.includes(name))).toEqual([]);
    expect(allNames.filter((name) => !emitted.has(name))).toEqual([]);
  });

  it('shows questions per day with what became of them, and feedback by vote', () => {
    const daily = (name: string) => read.filter((m) => m.name === name && m.stat === 'Sum');
    for (const name of ['Questions', 'Answered', 'Declined', 'Apologies', 'Syncs', 'SyncFailures']) {
      expect(daily(name)).toEqual([{ name, dimensions: { service: METRICS_SERVICE }, stat: 'Sum' }]);
    }
    expect(daily('Feedback').map((m) => m.dimensions.Vote)).toEqual([...VOTES]);
  });

  it('shows p50 and p95 of every conversation step, by the names the state machine gives them', () => {
    const asl = JSON.parse(readFileSync(join(REPO_ROOT, 'statemachine/conversation.asl.json'), 'utf8'));
    const tasks = Object.entries<Json>(asl.States)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name]) => name);
    expect([...CONVERSATION_STEPS].sort()).toEqual(tasks.sort());
    for (const stat of ['p50', 'p95']) {
      const steps = read
        .filter((m) => m.name === 'StepDuration' && m.stat === stat)
        .map((m) => m.dimensions.Step);
      expect(steps).toEqual([...CONVERSATION_STEPS]);
    }
  });

  it('shows tokens per model per day and the chat model’s estimated cost at its list price', () => {
    const perModel = read.filter((m) => m.dimensions.Model === '*').map((m) => m.name);
    expect(perModel.sort()).toEqual(['InputTokens', 'OutputTokens']);
    const price = priceOf('gpt-4.1-mini');
    const expressions = body.widgets.flatMap((w: Json) =>
      (w.properties?.metrics ?? []).map((row: Json[]) => row[row.length - 1]?.expression).filter(Boolean),
    );
    expect(expressions).toContain(`(costIn * ${price?.input} + costOut * ${price?.output}) / 1000000`);
    const costed = read.filter((m) => m.dimensions.Model === 'gpt-4.1-mini').map((m) => m.name);
    expect(costed.sort()).toEqual(['InputTokens', 'OutputTokens']);
  });

  it('says so instead of a cost graph when the chat model has no known price', () => {
    const { template: custom } = synthWithoutBundling({ 'bot:chatModel': 'my-own-model' });
    const customBody = dashboardBody(
      (resourcesOf(custom, 'AWS::CloudWatch::Dashboard')[0] as [string, CfnResource])[1],
    );
    const texts = customBody.widgets
      .filter((w: Json) => w.type === 'text')
      .map((w: Json) => w.properties.markdown);
    expect(texts.join('\n')).toContain('No list price is known for `my-own-model`');
  });
});

describe('the daily token budget alarm (bot:dailyTokenBudget)', () => {
  it('is absent unless a budget is configured', () => {
    const { template } = synthWithoutBundling();
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([id]) => id);
    expect(alarms.filter((id) => id.startsWith('DailyTokenBudget'))).toEqual([]);
  });

  it('alarms into the alarms topic when a day’s input and output tokens of all models reach the budget', () => {
    const { template } = synthWithoutBundling({ 'bot:dailyTokenBudget': '2000000' });
    const [topicId] = resourcesOf(template, 'AWS::SNS::Topic')[0] as [string, CfnResource];
    const budget = resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(([id]) =>
      id.startsWith('DailyTokenBudget'),
    );
    expect(budget).toHaveLength(1);
    const alarm = (budget[0] as [string, CfnResource])[1].Properties;
    expect(alarm).toMatchObject({
      Threshold: 2_000_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      AlarmActions: [{ Ref: topicId }],
      TreatMissingData: 'notBreaching',
    });
    const [expression, ...inputs] = alarm.Metrics as Json[];
    expect(expression).toMatchObject({ Expression: 'tokensIn + tokensOut', ReturnData: true });
    // The totals the functions emit without the Model dimension: an alarm cannot sum a SEARCH over the models.
    expect(inputs.map((m: Json) => m.MetricStat)).toEqual(
      ['InputTokens', 'OutputTokens'].map((name) => ({
        Metric: {
          Namespace: METRICS_NAMESPACE,
          MetricName: name,
          Dimensions: [{ Name: 'service', Value: METRICS_SERVICE }],
        },
        Period: 86_400,
        Stat: 'Sum',
      })),
    );
  });

  it('refuses a budget that is not a whole positive number, naming the key', () => {
    for (const bad of ['lots', '0', '1.5']) {
      expect(() => synthWithoutBundling({ 'bot:dailyTokenBudget': bad })).toThrow(BotConfigError);
      expect(() => synthWithoutBundling({ 'bot:dailyTokenBudget': bad })).toThrow(/bot:dailyTokenBudget/);
    }
  });
});
