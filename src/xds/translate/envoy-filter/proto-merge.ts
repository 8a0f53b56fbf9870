/**
 * Proto merge over the plain message objects protos.ts encodes, as Istio merges EnvoyFilter
 * patch values (pkg/proto/merge, Go's proto.Merge): set scalars in the patch replace, messages
 * merge field by field, repeated fields append (MERGE_AND_REPLACE_LIST would replace them), map
 * entries replace, a Duration is replaced whole, and setting another member of a oneof clears
 * the one set before. An Any is merged like any message (its type URL and bytes replace);
 * filters' typed configs of the same type are merged through mergeAny (Istio's MergeAnyWithAny).
 *
 * Messages are compared in canonical form: encoded and decoded again, so a field is present
 * exactly when proto3 would send it (zero scalars vanish) and nested Any values are bytes.
 */
import protobuf from 'protobufjs';
import { CONVERSION as DECODED, messageType, type AnyLike } from '../../../protocol/protos.js';

/** protos.ts' conversion without oneof marker fields, so objects hold message fields only. */
const CONVERSION = { ...DECODED, oneofs: false };

export type Obj = Record<string, unknown>;

/** A message's `name` field, or '' (listeners, clusters, filters, routes...). */
export function nameOf(o: Obj): string {
  return typeof o.name === 'string' ? o.name : '';
}

/** `object` of message `typeName` as decoding gives it (protos.ts CONVERSION). */
export function canonical(typeName: string, object: object): Obj {
  const t = messageType(typeName);
  return t.toObject(t.decode(t.encode(t.fromObject(object)).finish()), CONVERSION);
}

export function unpack(any: AnyLike): { typeUrl: string; message: Obj } {
  const typeUrl = any.type_url ?? '';
  const t = messageType(typeUrl);
  return { typeUrl, message: t.toObject(t.decode(any.value ?? new Uint8Array(0)), CONVERSION) };
}

export function pack(typeUrl: string, message: Obj): { type_url: string; value: Buffer } {
  const t = messageType(typeUrl);
  const bytes = t.encode(t.fromObject(message)).finish();
  return { type_url: typeUrl, value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** `src` merged into `dst` (both canonical messages of `typeName`); neither is changed. */
export function mergeMessage(typeName: string, dst: Obj, src: Obj, replaceList = false): Obj {
  return mergeTyped(messageType(typeName), dst, src, replaceList);
}

function mergeTyped(type: protobuf.Type, dst: Obj, src: Obj, replaceList: boolean): Obj {
  // Istio replaces a Duration rather than merging seconds and nanos separately.
  if (type.fullName === '.google.protobuf.Duration') return { ...src };
  const out: Obj = { ...dst };
  for (const field of type.fieldsArray) {
    const v = src[field.name];
    if (v === undefined || v === null) continue;
    field.resolve();
    if (field.partOf) {
      for (const other of field.partOf.fieldsArray) if (other !== field) delete out[other.name];
    }
    const before = out[field.name];
    if (field.map) {
      out[field.name] = { ...(before ?? {}), ...(v as Obj) };
    } else if (field.repeated) {
      out[field.name] = replaceList
        ? [...(v as unknown[])]
        : [...((before as unknown[] | undefined) ?? []), ...(v as unknown[])];
    } else if (field.resolvedType instanceof protobuf.Type && before !== undefined) {
      out[field.name] = mergeTyped(field.resolvedType, before as Obj, v as Obj, replaceList);
    } else {
      out[field.name] = v;
    }
  }
  return out;
}

/**
 * Istio's MergeAnyWithAny: two Anys of the same type merged as messages; undefined when the
 * types differ (the caller keeps what it had).
 */
export function mergeAny(dst: AnyLike, src: AnyLike): { type_url: string; value: Buffer } | undefined {
  const url = dst.type_url ?? '';
  if (url === '' || url !== (src.type_url ?? '')) return undefined;
  const a = unpack(dst);
  const b = unpack(src);
  return pack(a.typeUrl, mergeTyped(messageType(a.typeUrl), a.message, b.message, false));
}
