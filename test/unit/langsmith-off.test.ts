import { getContextVariable, setContextVariable } from '@langchain/core/context';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { RunnableLambda } from '@langchain/core/runnables';
import { LocalExtractiveChatModel } from '../../functions/core/llm/local-chat-model';

/**
 * LangChain with the Lambda bundles' stand-in for langsmith (infra/bundle-stubs/langsmith-off.ts), as the
 * bundles alias it (infra/lambda-bundling.ts): chains, streaming and context variables work as with the SDK,
 * and turning tracing on fails with the stand-in's error instead of being ignored.
 */
jest.mock('langsmith', () => jest.requireActual('../../infra/bundle-stubs/langsmith-off'));
jest.mock('langsmith/run_trees', () => jest.requireActual('../../infra/bundle-stubs/langsmith-off'));
jest.mock('langsmith/singletons/traceable', () =>
  jest.requireActual('../../infra/bundle-stubs/langsmith-off'),
);

const TRACING_VARIABLES = [
  'LANGSMITH_TRACING',
  'LANGSMITH_TRACING_V2',
  'LANGCHAIN_TRACING',
  'LANGCHAIN_TRACING_V2',
];

function chain() {
  const prompt = ChatPromptTemplate.fromMessages([
    ['system', 'Answer from the passages.'],
    ['human', 'Passages: The VPN key is rotated with `corpvpn rotate-key`.\n\nQuestion: {question}'],
  ]);
  return prompt.pipe(new LocalExtractiveChatModel()).pipe(new StringOutputParser());
}

describe('LangChain with langsmith left out', () => {
  const saved = Object.fromEntries(TRACING_VARIABLES.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('is the stand-in that LangChain loads', () => {
    expect(jest.requireMock<{ Client: unknown }>('langsmith').Client).toBe(
      jest.requireActual<{ Client: unknown }>('../../infra/bundle-stubs/langsmith-off').Client,
    );
  });

  it('invokes and streams a chain, with callbacks, as with the SDK', async () => {
    for (const name of TRACING_VARIABLES) delete process.env[name];
    const seen: string[] = [];

    const answer = await chain().invoke(
      { question: 'How do I rotate the VPN key?' },
      { callbacks: [{ handleLLMEnd: () => void seen.push('llm end') }], runName: 'Answer' },
    );
    const streamed: string[] = [];
    for await (const piece of await chain().stream({ question: 'How do I rotate the VPN key?' })) {
      streamed.push(piece);
    }

    expect(answer.length).toBeGreaterThan(0);
    expect(streamed.length).toBeGreaterThan(1);
    expect(streamed.join('')).toBe(answer);
    expect(seen).toEqual(['llm end']);
  });

  it('carries context variables through runnables, as with the SDK', async () => {
    const read = RunnableLambda.from(async () => getContextVariable('tenant'));
    const outer = RunnableLambda.from(async () => {
      setContextVariable('tenant', 'T0LOCAL001');
      return read.invoke({});
    });

    expect(await outer.invoke({})).toBe('T0LOCAL001');
  });

  it('fails a chain with the stand-in’s error when tracing is turned on', async () => {
    process.env.LANGSMITH_TRACING = 'true';

    await expect(chain().invoke({ question: 'How do I rotate the VPN key?' })).rejects.toMatchObject({
      name: 'LangSmithLeftOutError',
    });
  });
});
