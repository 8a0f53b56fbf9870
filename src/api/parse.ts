/**
 * Files to resources: multi-document YAML (and JSON, which is YAML) parsed, each document read
 * and validated on its own so one bad document never hides the others.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { Problems, TrellisError, type Problem } from '../core/errors.js';
import type { Resource, SourceRef } from './resource.js';
import { readResource } from './validate.js';

export interface ParsedDocument {
  source: SourceRef;
  /** Present only when the document has no errors (warnings allowed). */
  resource?: Resource;
  /**
   * Which resource the document describes, whenever apiVersion, kind and metadata.name could
   * be read, even if the spec is invalid: lets a store keep the last good version of it.
   */
  ref?: { apiVersion: string; kind: string; namespace: string; name: string };
  /** The document is not a mesh resource (e.g. a Deployment) and was skipped with a warning. */
  skipped?: boolean;
  problems: Problem[];
}

/** YAML errors come as "MESSAGE at line L, column C:\n\nsnippet"; keep one line. */
function yamlErrorMessage(err: {
  message: string;
  linePos?: [{ line: number; col: number }, ...unknown[]];
}): string {
  const first = err.message.split('\n')[0] ?? err.message;
  const m = /^(.*) at line (\d+), column (\d+):?$/.exec(first);
  if (m) return `line ${m[2]}, column ${m[3]}: invalid YAML: ${m[1]}`;
  const pos = err.linePos?.[0];
  return pos ? `line ${pos.line}, column ${pos.col}: invalid YAML: ${first}` : `invalid YAML: ${first}`;
}

/**
 * Parses every document of `text`, validating each. Empty documents (only comments, or
 * between two `---`) are skipped; document numbers count them, so `file:N` is the N-th
 * document as an editor would count separators.
 */
export function parseAndValidate(text: string, file: string): ParsedDocument[] {
  const out: ParsedDocument[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  docs.forEach((doc, i) => {
    const source: SourceRef = { file, doc: i + 1 };
    const problems = new Problems();
    if (doc.errors.length > 0) {
      for (const err of doc.errors) problems.error('', yamlErrorMessage(err));
      out.push({ source, problems: problems.items });
      return;
    }
    for (const w of doc.warnings) problems.warning('', yamlErrorMessage(w));
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const { resource, skipped } = readResource(value, problems);
    const parsed: ParsedDocument = { source, problems: problems.items };
    if (resource !== undefined) {
      parsed.ref = {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        namespace: resource.metadata.namespace,
        name: resource.metadata.name,
      };
      if (problems.ok) parsed.resource = resource;
    }
    if (skipped) parsed.skipped = true;
    out.push(parsed);
  });
  return out;
}

/** Reads and parses one file. Throws TRELLIS_NOT_FOUND / TRELLIS_IO when it cannot be read. */
export async function loadFile(file: string): Promise<ParsedDocument[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TrellisError(
      code === 'ENOENT' ? 'TRELLIS_NOT_FOUND' : 'TRELLIS_IO',
      code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(err as Error).message}`,
      { file, cause: err },
    );
  }
  return parseAndValidate(text, file);
}
