import { zstdDecompressSync } from 'node:zlib';
import { MessageHeader } from 'apache-arrow';
import { CompressionType } from 'apache-arrow/fb/compression-type';
import { Message as FbMessage } from 'apache-arrow/fb/message';
import { RecordBatch as FbRecordBatch } from 'apache-arrow/fb/record-batch';
import { BufferRegion, FieldNode, Message, RecordBatch } from 'apache-arrow/ipc/metadata/message';
import { ByteBuffer } from 'flatbuffers';
import * as lz4 from 'lz4js';

/**
 * LanceDB's remote client sends its rows as an Arrow IPC stream whose record batches are compressed with LZ4 frames
 * (arrow-rs `IpcWriteOptions::try_with_compression(LZ4_FRAME)`), which apache-arrow 18 for JavaScript cannot read
 * ("Record batch compression not implemented"). This rewrites such a stream into the same stream uncompressed: each
 * compressed record batch's buffers are decompressed and its metadata written again without the compression field;
 * every other message is copied as it is. ZSTD (the other codec of the format) is decompressed with Node's zlib.
 * LZ4 frames are decoded by `lz4js`; the stream's framing (Arrow's IPC messages) is rewritten here, as apache-arrow
 * exposes its flatbuffer types but no writer for a batch's metadata without compression.
 */
export function uncompressedIpcStream(stream: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let position = 0;
  while (position + 4 <= stream.byteLength) {
    let prefix = 4;
    let metadataLength = view.getInt32(position, true);
    if (metadataLength === -1) {
      if (position + 8 > stream.byteLength) throw new Error('the stream ends inside a message prefix');
      metadataLength = view.getInt32(position + 4, true);
      prefix = 8;
    }
    if (metadataLength === 0) {
      parts.push(stream.subarray(position, position + prefix));
      position += prefix;
      break;
    }
    const metadataStart = position + prefix;
    const metadata = stream.subarray(metadataStart, metadataStart + metadataLength);
    if (metadata.byteLength !== metadataLength) throw new Error('the stream ends inside a message');
    const message = FbMessage.getRootAsMessage(new ByteBuffer(metadata));
    const bodyLength = Number(message.bodyLength());
    const bodyStart = metadataStart + metadataLength;
    const body = stream.subarray(bodyStart, bodyStart + bodyLength);
    if (body.byteLength !== bodyLength) throw new Error('the stream ends inside a message body');
    const batch =
      message.headerType() === MessageHeader.RecordBatch
        ? (message.header(new FbRecordBatch()) as FbRecordBatch | null)
        : null;
    const compression = batch?.compression();
    if (batch === null || batch === undefined || compression === null || compression === undefined) {
      parts.push(stream.subarray(position, bodyStart + bodyLength));
    } else {
      parts.push(...decompressedBatch(batch, compression.codec(), body));
    }
    position = bodyStart + bodyLength;
  }
  return concat(parts);
}

/** The record batch message, framed, with its buffers decompressed into a new body (each 8-byte aligned). */
function decompressedBatch(batch: FbRecordBatch, codec: CompressionType, body: Uint8Array): Uint8Array[] {
  const buffers: Uint8Array[] = [];
  const regions: BufferRegion[] = [];
  let offset = 0;
  for (let i = 0; i < batch.buffersLength(); i++) {
    const region = batch.buffers(i);
    if (region === null) throw new Error(`record batch buffer ${i} is missing`);
    const compressed = body.subarray(
      Number(region.offset()),
      Number(region.offset()) + Number(region.length()),
    );
    const data = decompressBuffer(compressed, codec);
    const padded = (data.byteLength + 7) & ~7;
    regions.push(new BufferRegion(offset, data.byteLength));
    buffers.push(data, new Uint8Array(padded - data.byteLength));
    offset += padded;
  }
  const nodes: FieldNode[] = [];
  for (let i = 0; i < batch.nodesLength(); i++) {
    const node = batch.nodes(i);
    if (node === null) throw new Error(`record batch field node ${i} is missing`);
    nodes.push(new FieldNode(node.length(), node.nullCount()));
  }
  const metadata = Message.encode(Message.from(new RecordBatch(batch.length(), nodes, regions), offset));
  const aligned = (metadata.byteLength + 8 + 7) & ~7;
  const prefix = new DataView(new ArrayBuffer(8));
  prefix.setInt32(0, -1, true);
  prefix.setInt32(4, aligned - 8, true);
  return [
    new Uint8Array(prefix.buffer),
    metadata,
    new Uint8Array(aligned - 8 - metadata.byteLength),
    ...buffers,
  ];
}

/** One buffer of a compressed batch: its uncompressed length (int64, -1 when stored as is), then the codec's data. */
function decompressBuffer(buffer: Uint8Array, codec: CompressionType): Uint8Array {
  if (buffer.byteLength === 0) return buffer;
  const length = Number(new DataView(buffer.buffer, buffer.byteOffset, 8).getBigInt64(0, true));
  const data = buffer.subarray(8);
  if (length === -1) return data;
  const out =
    codec === CompressionType.ZSTD
      ? new Uint8Array(zstdDecompressSync(data))
      : Uint8Array.from(lz4.decompress(data, length));
  if (out.byteLength !== length) {
    throw new Error(`a buffer decompressed to ${out.byteLength} bytes instead of ${length}`);
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return joined;
}
