import { existsSync } from 'node:fs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Env, loadConfig } from '../../functions/core/config';
import { localStoreInUse, runningDev } from '../local/local-store-lock';

/** Where `npm run ask` and `npm run dev` keep the local conversation table. */
export const LOCAL_DYNAMO_PATH = '.local/dynamodb';

/** The conversation table a command reads: its client, its name, and where it is, for the messages. */
export interface ConversationTable {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** `the deployed table T (eu-west-1)`, `.local/dynamodb`, `.local/dynamodb, through the running npm run dev`. */
  where: string;
  close(): Promise<void>;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client);
}

/** The one table a local store holds (the local stack creates exactly one). */
async function onlyTable(client: DynamoDBClient, where: string): Promise<string> {
  const { TableNames = [] } = await client.send(new ListTablesCommand({}));
  if (TableNames.length !== 1) {
    throw new Error(
      TableNames.length === 0
        ? `${where} holds no conversation table yet: ask a question first (npm run ask -- "...")`
        : `${where} holds ${TableNames.length} tables (${TableNames.join(', ')}); set CONVERSATION_TABLE to the one to read`,
    );
  }
  return TableNames[0] as string;
}

/**
 * Opens the conversation table the way the other commands reach it:
 * - `CONVERSATION_TABLE` set: the deployed table, in `AWS_REGION`, with the usual AWS credentials (profile,
 *   environment, SSO), read through the functions' own configuration loader (`DYNAMODB_ENDPOINT` is honoured);
 * - else, while `npm run dev` runs: its DynamoDB (it holds `.local/dynamodb`), as `npm run ask` does;
 * - else `.local/dynamodb`, opened here (refused, saying so, while another local command holds it).
 */
export async function openConversationTable(env: Env = process.env): Promise<ConversationTable> {
  if (env.CONVERSATION_TABLE?.trim()) {
    const config = loadConfig(env);
    const client = new DynamoDBClient({
      region: config.region,
      ...(config.endpoints.dynamodb !== undefined ? { endpoint: config.endpoints.dynamodb } : {}),
    });
    const tableName = config.conversationTable as string;
    return {
      client: documentClient(client),
      tableName,
      where: `the table ${tableName} (${config.region})`,
      async close() {
        client.destroy();
      },
    };
  }
  const dev = await runningDev();
  if (dev !== undefined) {
    const where = `${LOCAL_DYNAMO_PATH}, through the running npm run dev (pid ${dev.pid})`;
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: dev.dynamodbEndpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    return {
      client: documentClient(client),
      tableName: await onlyTable(client, where),
      where,
      async close() {
        client.destroy();
      },
    };
  }
  if (!existsSync(LOCAL_DYNAMO_PATH)) {
    throw new Error(
      `no local conversation history: ${LOCAL_DYNAMO_PATH} does not exist here. Ask a question first (npm run ask -- "..."), ` +
        'run this from the directory you asked in, or set CONVERSATION_TABLE and AWS_REGION to read the deployed table',
    );
  }
  const busy = await localStoreInUse(LOCAL_DYNAMO_PATH);
  if (busy !== undefined) throw new Error(busy);
  // Loaded only here: dynalite is a development dependency, needed for the local store alone.
  const { startDynalite } = await import('../../stand-ins/aws/dynamodb-local');
  const dynamo = await startDynalite({ path: LOCAL_DYNAMO_PATH });
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamo.endpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const tableName = await onlyTable(client, LOCAL_DYNAMO_PATH);
    return {
      client: documentClient(client),
      tableName,
      where: LOCAL_DYNAMO_PATH,
      async close() {
        client.destroy();
        await dynamo.close();
      },
    };
  } catch (error) {
    client.destroy();
    await dynamo.close();
    throw error;
  }
}
