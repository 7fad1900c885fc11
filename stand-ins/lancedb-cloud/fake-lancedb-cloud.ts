import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Connection, connect, Index, type Table as LanceTable } from '@lancedb/lancedb';
import {
  type Table as ArrowTable,
  type DataType,
  type Field,
  type Schema,
  TimeUnit,
  Type,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';
import { foreignRequest } from '../loopback-guard';
import { uncompressedIpcStream } from './arrow-ipc-decompress';

/**
 * LanceDB Cloud's REST API on loopback, for the calls `@lancedb/lancedb` 0.31 makes for a `db://` connection
 * (rust/lancedb/src/remote/{client,db,table}.rs of the SDK): the SDK itself connects to it, with `hostOverride` set to
 * this server's URL. Each database keeps its tables in a local LanceDB directory, which answers the queries: what the
 * stand-in checks is the wire (routes, the `x-api-key` and `x-lancedb-database` headers, JSON and Arrow IPC bodies),
 * not LanceDB Cloud's engine. The routes it answers, and what it does not do, are in README.md.
 */

export interface FakeLanceDbCloudOptions {
  /** The API key every request must carry in `x-api-key`. */
  apiKey: string;
  /** Where each database's tables live: `<dataDir>/<database>`. */
  dataDir: string;
  /** The databases that exist (the name in `db://name`); a request for another answers 404. @default ['docs'] */
  databases?: readonly string[];
}

/** One request as the stand-in received it (never its API key). */
export interface LanceDbCloudRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/table/documents/query/`. */
  path: string;
  query: Record<string, string>;
  /** The `x-lancedb-database` header. */
  database?: string;
  /** Whether `x-api-key` was present, and the one expected. */
  auth: 'ok' | 'missing' | 'wrong-key';
  contentType?: string;
  status: number;
}

export interface FakeLanceDbCloud {
  /** What to give the SDK as `hostOverride` (`LANCEDB_HOST_OVERRIDE`), e.g. `http://127.0.0.1:PORT`. */
  url: string;
  requests: LanceDbCloudRequest[];
  /** The local LanceDB directory holding `database`'s tables, to look at what a client wrote. */
  directoryOf(database: string): string;
  close(): Promise<void>;
}

const ARROW_STREAM = 'application/vnd.apache.arrow.stream';
const ARROW_FILE = 'application/vnd.apache.arrow.file';
/** Largest body accepted; LanceDB Cloud's own limit is not documented, this only keeps a runaway test bounded. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** A refusal with LanceDB Cloud's status; the SDK puts the body's text into the error it raises. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new HttpError(400, message);

export async function startFakeLanceDbCloud(options: FakeLanceDbCloudOptions): Promise<FakeLanceDbCloud> {
  const databases = new Set(options.databases ?? ['docs']);
  const connections = new Map<string, Promise<Connection>>();
  const requests: LanceDbCloudRequest[] = [];
  const directoryOf = (database: string) => join(options.dataDir, database);
  const connectionOf = (database: string): Promise<Connection> => {
    let connection = connections.get(database);
    if (connection === undefined) {
      // Every read sees the last write, as LanceDB Cloud's strong reads do (x-lancedb-min-version aside).
      connection = connect(directoryOf(database), { readConsistencyInterval: 0 });
      connections.set(database, connection);
    }
    return connection;
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const key = req.headers['x-api-key'];
    const record: LanceDbCloudRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      database: headerOf(req, 'x-lancedb-database'),
      auth: key === undefined ? 'missing' : key === options.apiKey ? 'ok' : 'wrong-key',
      contentType: headerOf(req, 'content-type'),
      status: 0,
    };
    requests.push(record);
    const reply = (status: number, body: unknown, contentType = 'application/json') => {
      record.status = status;
      const bytes =
        body instanceof Uint8Array
          ? body
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.byteLength });
      res.end(bytes);
    };
    const refusal = foreignRequest(req);
    if (refusal !== undefined) {
      reply(refusal.status, { error: refusal.reason });
      return;
    }
    handle(req, url, record)
      .then((result) => reply(200, result.body, result.contentType))
      .catch((error: unknown) => {
        if (error instanceof HttpError) reply(error.status, { error: error.message });
        else reply(500, { error: error instanceof Error ? error.message : String(error) });
      });
  });

  async function handle(
    req: IncomingMessage,
    url: URL,
    record: LanceDbCloudRequest,
  ): Promise<{ body: unknown; contentType?: string }> {
    if (record.auth !== 'ok') throw new HttpError(401, 'Unauthorized: missing or invalid x-api-key');
    const database = record.database;
    if (database === undefined) throw badRequest('missing x-lancedb-database header');
    if (!databases.has(database)) throw new HttpError(404, `database ${database} not found`);
    const connection = await connectionOf(database);
    const body = await readBody(req);
    const path = url.pathname;

    if (path === '/v1/table/' || path === '/v1/table') {
      if (req.method !== 'GET') throw new HttpError(405, 'method not allowed');
      return { body: await listTables(connection, url.searchParams) };
    }
    const match = /^\/v1\/table\/([^/]+)\/(.+?)\/?$/.exec(path);
    if (match === null) throw new HttpError(404, `no route for ${path}`);
    if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
    const name = decodeURIComponent(match[1] as string);
    const action = match[2] as string;
    if (action === 'create') return { body: await createTable(connection, name, url, record, body) };

    const table = await openTable(connection, name);
    try {
      const index = /^index\/([^/]+)\/(stats|drop|prewarm)$/.exec(action);
      if (index !== null) {
        return { body: await indexAction(table, decodeURIComponent(index[1] as string), index[2] as string) };
      }
      switch (action) {
        case 'describe':
          jsonOf(body, record);
          return { body: await describe(table) };
        case 'count_rows': {
          const { predicate } = jsonOf(body, record);
          if (predicate !== undefined && predicate !== null && typeof predicate !== 'string') {
            throw badRequest('predicate must be a string');
          }
          return { body: await table.countRows(predicate ?? undefined) };
        }
        case 'query':
          return { body: await query(table, jsonOf(body, record)), contentType: ARROW_FILE };
        case 'insert': {
          const rows = arrowOf(body, record);
          const mode = url.searchParams.get('mode') === 'overwrite' ? 'overwrite' : 'append';
          const result = await table.add(rows, { mode });
          return { body: { version: result.version } };
        }
        case 'merge_insert':
          return { body: await mergeInsert(table, url.searchParams, arrowOf(body, record)) };
        case 'delete': {
          const { predicate } = jsonOf(body, record);
          if (typeof predicate !== 'string' || predicate.trim() === '') {
            throw badRequest('predicate is required');
          }
          const result = await table.delete(predicate);
          return { body: { num_deleted_rows: result.numDeletedRows, version: result.version } };
        }
        case 'create_index':
          await createIndex(table, jsonOf(body, record));
          return { body: {} };
        case 'index/list':
          jsonOf(body, record);
          return { body: await listIndexes(table) };
        case 'add_columns': {
          const { new_columns } = jsonOf(body, record);
          if (!Array.isArray(new_columns) || new_columns.length === 0) {
            throw badRequest('new_columns must be a non-empty list of {name, expression}');
          }
          const result = await table.addColumns(
            new_columns.map((c: { name?: unknown; expression?: unknown }) => {
              if (typeof c.name !== 'string' || typeof c.expression !== 'string') {
                throw badRequest('each new column needs a name and an expression');
              }
              return { name: c.name, valueSql: c.expression };
            }),
          );
          return { body: { version: result.version } };
        }
        case 'drop':
          table.close();
          await connection.dropTable(name);
          return { body: {} };
        default:
          throw new HttpError(404, `no route for ${path}`);
      }
    } finally {
      if (table.isOpen()) table.close();
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    directoryOf,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of connections.values()) (await connection).close();
    },
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body: what every route but create, insert and merge_insert takes (an empty body is `{}`). */
// biome-ignore lint/suspicious/noExplicitAny: a request body is whatever the client sent; each route checks its fields.
function jsonOf(body: Buffer, record: LanceDbCloudRequest): Record<string, any> {
  if (body.byteLength === 0) return {};
  if (record.contentType !== undefined && !record.contentType.startsWith('application/json')) {
    throw badRequest(`expected application/json, got ${record.contentType}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('the body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** An Arrow IPC stream body: create, insert and merge_insert. */
function arrowOf(body: Buffer, record: LanceDbCloudRequest): ArrowTable {
  if (record.contentType !== ARROW_STREAM) {
    throw badRequest(`expected ${ARROW_STREAM}, got ${record.contentType ?? 'no content-type'}`);
  }
  try {
    return tableFromIPC(uncompressedIpcStream(body));
  } catch (error) {
    throw badRequest(`the body is not an Arrow IPC stream: ${(error as Error).message}`);
  }
}

async function listTables(connection: Connection, params: URLSearchParams) {
  const names = (await connection.tableNames()).sort();
  const after = params.get('page_token');
  const from = after === null ? names : names.filter((n) => n > after);
  const limit = params.has('limit') ? Number(params.get('limit')) : from.length;
  if (!Number.isInteger(limit) || limit < 0) throw badRequest('limit must be a whole number');
  const tables = from.slice(0, limit);
  return tables.length < from.length ? { tables, page_token: tables.at(-1) } : { tables };
}

async function openTable(connection: Connection, name: string): Promise<LanceTable> {
  if (!(await connection.tableNames()).includes(name)) {
    throw new HttpError(404, `Table '${name}' was not found`);
  }
  return connection.openTable(name);
}

async function createTable(
  connection: Connection,
  name: string,
  url: URL,
  record: LanceDbCloudRequest,
  body: Buffer,
) {
  const mode = url.searchParams.get('mode') ?? 'create';
  if (!['create', 'exist_ok', 'overwrite'].includes(mode)) throw badRequest(`unknown mode ${mode}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw badRequest(`invalid table name ${name}`);
  const data = arrowOf(body, record);
  if (mode !== 'overwrite' && (await connection.tableNames()).includes(name)) {
    throw badRequest(`Table '${name}' already exists`);
  }
  const table =
    data.numRows === 0
      ? await connection.createEmptyTable(name, data.schema, {
          mode: mode === 'overwrite' ? 'overwrite' : 'create',
        })
      : await connection.createTable(name, data, { mode: mode === 'overwrite' ? 'overwrite' : 'create' });
  const version = await table.version();
  table.close();
  return { version };
}

async function describe(table: LanceTable) {
  const schema = await table.schema();
  return { version: await table.version(), schema: jsonSchemaOf(schema) };
}

async function query(table: LanceTable, body: Record<string, unknown>): Promise<Uint8Array> {
  const k = body.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0)
    throw badRequest('k is required: a whole number');
  const vector = body.vector;
  if (!Array.isArray(vector))
    throw badRequest('vector is required: a list of numbers, empty for no vector search');
  if (vector.some((v) => typeof v !== 'number')) {
    throw badRequest(
      'vector must be one list of numbers (multivector queries are not covered by the stand-in)',
    );
  }
  // biome-ignore lint/suspicious/noExplicitAny: Query and VectorQuery share these builder methods.
  let q: any = table.query();
  if (vector.length > 0) {
    q = q.nearestTo(vector as number[]);
    if (typeof body.distance_type === 'string') q = q.distanceType(body.distance_type.toLowerCase());
    if (typeof body.ef === 'number') q = q.ef(body.ef);
    if (typeof body.refine_factor === 'number') q = q.refineFactor(body.refine_factor);
    if (typeof body.minimum_nprobes === 'number') q = q.minimumNprobes(body.minimum_nprobes);
    if (typeof body.maximum_nprobes === 'number' && body.maximum_nprobes > 0) {
      q = q.maximumNprobes(body.maximum_nprobes);
    }
    if (typeof body.vector_column === 'string') q = q.column(body.vector_column);
    if (body.bypass_vector_index === true) q = q.bypassVectorIndex();
    if (typeof body.lower_bound === 'number' || typeof body.upper_bound === 'number') {
      q = q.distanceRange(body.lower_bound ?? undefined, body.upper_bound ?? undefined);
    }
    if (body.prefilter === false) q = q.postfilter();
  }
  const fts = body.full_text_query as { query?: unknown; columns?: unknown } | undefined;
  if (fts !== undefined && fts !== null) {
    if (typeof fts.query !== 'string') {
      throw badRequest(
        'full_text_query.query must be a string (structured queries are not covered by the stand-in)',
      );
    }
    const columns = Array.isArray(fts.columns) && fts.columns.length > 0 ? fts.columns : undefined;
    q = q.fullTextSearch(fts.query, columns === undefined ? {} : { columns });
  }
  if (typeof body.filter === 'string') q = q.where(body.filter);
  if (Array.isArray(body.columns) || (typeof body.columns === 'object' && body.columns !== null)) {
    q = q.select(body.columns);
  }
  // The SDK sends isize::MAX for "no limit".
  if (k < Number.MAX_SAFE_INTEGER) q = q.limit(k);
  if (typeof body.offset === 'number') q = q.offset(body.offset);
  if (body.fast_search === true) q = q.fastSearch();
  if (body.with_row_id === true) q = q.withRowId();
  let result: ArrowTable;
  try {
    result = await q.toArrow();
  } catch (error) {
    throw badRequest(`invalid query: ${(error as Error).message}`);
  }
  return tableToIPC(result, 'file');
}

async function mergeInsert(table: LanceTable, params: URLSearchParams, rows: ArrowTable) {
  const on = params.get('on');
  if (on === null || on === '') throw badRequest('merge_insert requires the on parameter');
  const yes = (name: string) => params.get(name) === 'true';
  let builder = table.mergeInsert(on);
  if (yes('when_matched_update_all')) {
    const where = params.get('when_matched_update_all_filt');
    builder = builder.whenMatchedUpdateAll(where ? { where } : undefined);
  }
  if (yes('when_not_matched_insert_all')) builder = builder.whenNotMatchedInsertAll();
  if (yes('when_not_matched_by_source_delete')) {
    const where = params.get('when_not_matched_by_source_delete_filt');
    builder = builder.whenNotMatchedBySourceDelete(where ? { where } : undefined);
  }
  const result = await builder.execute(rows);
  return {
    version: result.version,
    num_inserted_rows: result.numInsertedRows,
    num_updated_rows: result.numUpdatedRows,
    num_deleted_rows: result.numDeletedRows,
    num_attempts: 1,
  };
}

/** The index type names on the wire (the SDK's IndexType), to the local builder's. */
async function createIndex(table: LanceTable, body: Record<string, unknown>): Promise<void> {
  const column = body.column;
  const type = body.index_type;
  if (typeof column !== 'string' || column === '') throw badRequest('column is required');
  if (typeof type !== 'string') throw badRequest('index_type is required');
  const distanceType = typeof body.metric_type === 'string' ? body.metric_type.toLowerCase() : undefined;
  const numPartitions = typeof body.num_partitions === 'number' ? body.num_partitions : undefined;
  let config: Index;
  switch (type) {
    case 'FTS':
      config = Index.fts({
        ...(typeof body.base_tokenizer === 'string'
          ? { baseTokenizer: body.base_tokenizer as 'simple' }
          : {}),
        ...(typeof body.language === 'string' ? { language: body.language } : {}),
        ...(typeof body.with_position === 'boolean' ? { withPosition: body.with_position } : {}),
        ...(typeof body.max_token_length === 'number' ? { maxTokenLength: body.max_token_length } : {}),
        ...(typeof body.lower_case === 'boolean' ? { lowercase: body.lower_case } : {}),
        ...(typeof body.stem === 'boolean' ? { stem: body.stem } : {}),
        ...(typeof body.remove_stop_words === 'boolean' ? { removeStopWords: body.remove_stop_words } : {}),
        ...(typeof body.ascii_folding === 'boolean' ? { asciiFolding: body.ascii_folding } : {}),
      });
      break;
    case 'BITMAP':
      config = Index.bitmap();
      break;
    case 'BTREE':
      config = Index.btree();
      break;
    case 'LABEL_LIST':
      config = Index.labelList();
      break;
    case 'IVF_RQ':
      config = Index.ivfRq({
        ...(distanceType ? { distanceType: distanceType as 'cosine' } : {}),
        ...(numPartitions !== undefined ? { numPartitions } : {}),
        ...(typeof body.num_bits === 'number' ? { numBits: body.num_bits } : {}),
      });
      break;
    case 'IVF_PQ':
      config = Index.ivfPq({
        ...(distanceType ? { distanceType: distanceType as 'cosine' } : {}),
        ...(numPartitions !== undefined ? { numPartitions } : {}),
        ...(typeof body.num_sub_vectors === 'number' ? { numSubVectors: body.num_sub_vectors } : {}),
      });
      break;
    case 'IVF_FLAT':
      config = Index.ivfFlat({
        ...(distanceType ? { distanceType: distanceType as 'cosine' } : {}),
        ...(numPartitions !== undefined ? { numPartitions } : {}),
      });
      break;
    case 'IVF_HNSW_SQ':
      config = Index.hnswSq({ ...(distanceType ? { distanceType: distanceType as 'cosine' } : {}) });
      break;
    default:
      throw badRequest(`index type ${type} is not covered by the stand-in`);
  }
  const fields = (await table.schema()).fields.map((f) => f.name);
  if (!fields.includes(column)) throw badRequest(`column ${column} does not exist`);
  await table.createIndex(column, {
    config,
    replace: true,
    ...(typeof body.name === 'string' ? { name: body.name } : {}),
  });
}

async function listIndexes(table: LanceTable) {
  const indexes = await table.listIndices();
  return {
    indexes: indexes.map((index) => ({
      index_name: index.name,
      columns: index.columns,
      index_type: index.indexType,
      ...(index.indexUuid === undefined ? {} : { index_uuid: index.indexUuid }),
      ...(index.numIndexedRows === undefined ? {} : { num_indexed_rows: index.numIndexedRows }),
      ...(index.numUnindexedRows === undefined ? {} : { num_unindexed_rows: index.numUnindexedRows }),
      ...(index.sizeBytes === undefined ? {} : { size_bytes: index.sizeBytes }),
      ...(index.indexDetails === undefined
        ? {}
        : {
            index_details:
              typeof index.indexDetails === 'string'
                ? index.indexDetails
                : JSON.stringify(index.indexDetails),
          }),
    })),
  };
}

async function indexAction(table: LanceTable, name: string, action: string) {
  const exists = (await table.listIndices()).some((i) => i.name === name);
  if (!exists) throw new HttpError(404, `index ${name} not found`);
  if (action === 'drop') await table.dropIndex(name);
  if (action === 'prewarm') await table.prewarmIndex(name);
  if (action !== 'stats') return {};
  const stats = await table.indexStats(name);
  if (stats === undefined) throw new HttpError(404, `index ${name} not found`);
  return {
    num_indexed_rows: stats.numIndexedRows,
    num_unindexed_rows: stats.numUnindexedRows,
    index_type: stats.indexType,
    ...(stats.distanceType === undefined ? {} : { distance_type: stats.distanceType }),
    ...(stats.numIndices === undefined ? {} : { num_indices: stats.numIndices }),
  };
}

/** An Arrow schema as the JSON LanceDB Cloud's describe answers with (lance's `arrow::json::JsonSchema`). */
export function jsonSchemaOf(schema: Schema) {
  return {
    fields: schema.fields.map(jsonFieldOf),
    ...(schema.metadata.size === 0 ? {} : { metadata: Object.fromEntries(schema.metadata) }),
  };
}

function jsonFieldOf(field: Field): Record<string, unknown> {
  return {
    name: field.name,
    type: jsonTypeOf(field.type),
    nullable: field.nullable,
    ...(field.metadata.size === 0 ? {} : { metadata: Object.fromEntries(field.metadata) }),
  };
}

const TIME_UNITS: Record<number, string> = {
  [TimeUnit.SECOND]: 's',
  [TimeUnit.MILLISECOND]: 'ms',
  [TimeUnit.MICROSECOND]: 'us',
  [TimeUnit.NANOSECOND]: 'ns',
};

/** lance's `LogicalType` names for the types a document table uses, and the common others. */
function jsonTypeOf(type: DataType): Record<string, unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: arrow's DataType subclasses carry their own fields (bitWidth, unit…).
  const t = type as any;
  switch (type.typeId) {
    case Type.Null:
      return { type: 'null' };
    case Type.Bool:
      return { type: 'bool' };
    case Type.Int:
      return { type: `${t.isSigned ? '' : 'u'}int${t.bitWidth}` };
    case Type.Float:
      return { type: ['halffloat', 'float', 'double'][t.precision] };
    case Type.Utf8:
      return { type: 'string' };
    case Type.LargeUtf8:
      return { type: 'large_string' };
    case Type.Binary:
      return { type: 'binary' };
    case Type.LargeBinary:
      return { type: 'large_binary' };
    case Type.Timestamp:
      return { type: `timestamp:${TIME_UNITS[t.unit]}:${t.timezone ?? '-'}` };
    case Type.Date:
      return { type: t.unit === 0 ? 'date32:day' : 'date64:ms' };
    case Type.FixedSizeList:
      return { type: 'fixed_size_list', fields: [jsonFieldOf(t.children[0])], length: t.listSize };
    case Type.List:
      return { type: 'list', fields: [jsonFieldOf(t.children[0])] };
    case Type.Struct:
      return { type: 'struct', fields: t.children.map(jsonFieldOf) };
    default:
      throw new Error(`the stand-in cannot describe a column of type ${String(type)}`);
  }
}
