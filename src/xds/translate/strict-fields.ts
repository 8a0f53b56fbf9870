/**
 * protobufjs `fromObject` silently drops fields it does not know and enum names it cannot
 * resolve, so a typo in a generator would vanish from the wire without an error. This checks a
 * plain object against the message's reflection instead; tests turn it on for every pack.
 */
import protobuf from 'protobufjs';
import { messageType } from '../../protocol/protos.js';

export function unknownFields(typeNameOrUrl: string, object: unknown): string[] {
  const problems: string[] = [];
  walk(messageType(typeNameOrUrl), object, typeNameOrUrl.slice(typeNameOrUrl.lastIndexOf('/') + 1), problems);
  return problems;
}

function walk(type: protobuf.Type, value: unknown, path: string, problems: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path}: expected an object for ${type.fullName}`);
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    const field = type.fields[key];
    if (field === undefined) {
      problems.push(`${path}.${key}: no such field in ${type.fullName}`);
      continue;
    }
    field.resolve();
    const check = (item: unknown, itemPath: string): void => checkValue(field, item, itemPath, problems);
    if (field.map) {
      for (const [k, item] of Object.entries(v as Record<string, unknown>))
        check(item, `${path}.${key}[${k}]`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) problems.push(`${path}.${key}: expected a list`);
      else v.forEach((item, i) => check(item, `${path}.${key}[${i}]`));
    } else {
      check(v, `${path}.${key}`);
    }
  }
}

function checkValue(field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    walk(resolved, value, path, problems);
  } else if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string' ? !(value in resolved.values) : typeof value !== 'number') {
      problems.push(`${path}: ${JSON.stringify(value)} is not a value of ${resolved.fullName}`);
    }
  } else if (field.type === 'string' && typeof value !== 'string') {
    problems.push(`${path}: expected a string`);
  } else if (field.type === 'bool' && typeof value !== 'boolean') {
    problems.push(`${path}: expected a boolean`);
  } else if (field.type === 'bytes' && !(value instanceof Uint8Array) && typeof value !== 'string') {
    problems.push(`${path}: expected bytes`);
  } else if (
    /int|fixed|double|float/.test(field.type) &&
    typeof value !== 'number' &&
    typeof value !== 'string'
  ) {
    problems.push(`${path}: expected a number`);
  }
}
