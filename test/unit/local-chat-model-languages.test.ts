import { LocalExtractiveChatModel } from '../../functions/core/llm/local-chat-model';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import type { Passage } from '../../functions/core/types';
import { answerLanguageOf } from '../../scripts/eval/answer-language';
import { answerMessages, condenseMessages } from '../support/local-model-prompts';

/**
 * Issue 24, point 4: the offline model across languages and without inventing answers. A Japanese question about an
 * English document is answered with the right passage under a Japanese framing; a Japanese follow-up is condensed
 * with its thread; a question naming something the best passage never mentions is declined; and the eval counts an
 * answer's language by its framing.
 */

const model = new LocalExtractiveChatModel();

async function ask(question: string, passages: Passage[]): Promise<string> {
  return (await model.invoke(await answerMessages(question, passages))).text;
}

async function condense(previous: string, followUp: string): Promise<string> {
  return (await model.invoke(await condenseMessages([previous], followUp))).text;
}

const S3_ENCRYPTION: Passage = {
  source: 'aws-s3/README.md',
  title: 'Amazon S3 Construct Library',
  heading: 'Amazon S3 Construct Library › Encryption',
  text: 'Define a KMS-encrypted bucket:\n\n```ts\nconst bucket = new s3.Bucket(this, "MyEncryptedBucket", {\n  encryption: s3.BucketEncryption.KMS,\n});\n```\n\nYou can enable bucket key to reduce the cost of KMS requests.',
  score: 0.8,
};
const SQS_QUEUES: Passage = {
  source: 'aws-sqs/README.md',
  title: 'Amazon Simple Queue Service Construct Library',
  heading: 'Amazon Simple Queue Service Construct Library › Dead-letter queues',
  text: 'A dead-letter queue receives the messages a consumer failed to process. Set deadLetterQueue with the queue and maxReceiveCount, the number of receives before a message moves there.',
  score: 0.5,
};
const VPN: Passage = {
  source: 'vpn-guide.md',
  title: 'VPN guide',
  heading: 'VPN guide › Rotating your VPN key',
  text: 'Your VPN key must be rotated every 90 days. Run corpvpn rotate-key and approve the push on your phone.',
  score: 0.7,
};

const DECLINE_JA = 'ドキュメントにはこの質問への答えが見つかりませんでした。';
const DECLINE_EN = 'The documents do not cover this question, so I cannot answer it from them.';

describe('a Japanese question about an English document', () => {
  it('is answered with the passage that covers it, framed in Japanese, the passage quoted as written', async () => {
    const answer = await ask('S3 バケットを KMS で暗号化するには？', [SQS_QUEUES, S3_ENCRYPTION]);

    expect(answer).toMatch(/^該当する箇所を、ドキュメントの原文のまま引用します。/);
    expect(answer).toContain('*Amazon S3 Construct Library › Encryption* [2] より:');
    expect(answer).toContain('> Define a KMS-encrypted bucket:');
    expect(answer).not.toContain('dead-letter');
    expect(answerLanguageOf(answer)).toBe('ja');
  });

  it('in Japanese words only (デッドレターキュー aside), is answered by the glossary’s English', async () => {
    const answer = await ask('SQS のキューで受信に失敗したメッセージはどうなりますか？', [
      S3_ENCRYPTION,
      SQS_QUEUES,
    ]);

    expect(answer).toContain('[2] より:');
    expect(answer).toContain('dead-letter queue receives the messages');
  });

  it('is declined when it holds a word the glossary cannot put in English, however well the rest is met', async () => {
    const limits: Passage = {
      source: 'travel-policy.md',
      title: 'Travel policy',
      heading: 'Travel policy › Hotels',
      text: 'The hotel limit is 180 EUR per night in a capital city.',
      score: 0.4,
    };

    expect(await ask('通勤手当の上限はいくらですか？', [limits])).toBe(DECLINE_JA);
  });

  it('is declined when the passage meets only part of it', async () => {
    const answer = await ask('S3 バケットのバージョニングを有効にするには？', [S3_ENCRYPTION]);

    expect(answer).toBe(DECLINE_JA);
  });
});

describe('the offline embeddings of a Japanese query', () => {
  it('carry the English of its words, so the English section it asks about is nearer than another', async () => {
    const embeddings = new LocalHashEmbeddings();
    const [encryption, queues] = await embeddings.embedDocuments([
      `${S3_ENCRYPTION.heading}\n${S3_ENCRYPTION.text}`,
      `${SQS_QUEUES.heading}\n${SQS_QUEUES.text}`,
    ]);
    const query = await embeddings.embedQuery('バケットを暗号化するには？');
    const dot = (a: number[] = [], b: number[] = []) => a.reduce((sum, v, i) => sum + v * (b[i] ?? 0), 0);

    expect(dot(query, encryption)).toBeGreaterThan(dot(query, queues));
    expect(dot(query, encryption)).toBeGreaterThan(0.1);
    // The documents' own vectors are not expanded: a table built before stays valid.
    expect(await embeddings.embedDocuments(['バケットを暗号化するには？'])).not.toEqual([query]);
  });
});

describe('a Japanese follow-up', () => {
  it('that names nothing (Japanese leaves the subject out) is condensed with its thread', async () => {
    expect(await condense('How do I rotate my VPN key?', 'どのくらいの頻度で必要ですか？')).toBe(
      'どのくらいの頻度で必要ですか？（関連: rotate VPN key）',
    );
  });

  it('asking "what about X" is condensed, whatever the share of Latin letters', async () => {
    expect(await condense('S3 バケットを KMS で暗号化するには？', 'Lambdaの場合は？')).toMatch(
      /^Lambdaの場合は？（関連: .*KMS.*）$/,
    );
  });

  it('that names its own subject stands alone', async () => {
    expect(await condense('How do I rotate my VPN key?', '経費精算の締め切りはいつですか？')).toBe(
      '経費精算の締め切りはいつですか？',
    );
  });
});

describe('a question naming something the best passage does not mention', () => {
  it('a product: declined rather than answered with a loosely related quote', async () => {
    expect(await ask('How do I rotate my VPN key with Okta?', [VPN])).toBe(DECLINE_EN);
    expect(await ask('How do I rotate my VPN key?', [VPN])).toContain(
      'From *VPN guide › Rotating your VPN key* [1]:',
    );
  });

  it('a version number: declined', async () => {
    expect(await ask('How do I rotate the VPN key in client 3.2?', [VPN])).toBe(DECLINE_EN);
  });

  it('named only in another passage: still declined, the quote must be about it', async () => {
    const answer = await ask('How do I rotate my VPN key for KMS?', [VPN, S3_ENCRYPTION]);
    expect(answer).not.toContain('corpvpn rotate-key');
  });
});

describe('the eval’s language of an answer', () => {
  it('is its framing’s, not that of the titles and passages it quotes', () => {
    expect(
      answerLanguageOf(
        '該当する箇所を、ドキュメントの原文のまま引用します。\n\n*Amazon S3 › Encryption* [1] より:\n> Define a KMS-encrypted bucket:',
      ),
    ).toBe('ja');
    expect(
      answerLanguageOf(
        '*Amazon S3 Construct Library › Encryption* [1] より:\n> Define a KMS-encrypted bucket:',
      ),
    ).toBe('ja');
    expect(
      answerLanguageOf('From *休暇規程 › 年次有給休暇* [1]:\n> 正社員には入社日から年間20日付与されます。'),
    ).toBe('en');
    expect(answerLanguageOf(DECLINE_JA)).toBe('ja');
  });
});
