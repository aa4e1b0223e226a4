import { Composer, CST, isMap, isScalar, isSeq, Parser, type Document, type Node, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { UsageError } from '@ag/core';

/**
 * A multi-document YAML manifest edited in place: values are changed in
 * yaml's concrete syntax tree, so every byte ag does not set (comments, key
 * order, quoting, indentation, document markers) stays as upstream wrote it
 * and `diff upstream rendered` shows only ag's changes.
 */
export class ManifestEdit {
  readonly documents: Document.Parsed[];
  private readonly tokens: CST.Token[];

  constructor(text: string, source: string) {
    this.tokens = Array.from(new Parser().parse(text));
    this.documents = Array.from(new Composer({ keepSourceTokens: true }).compose(this.tokens));
    for (const document of this.documents) {
      if (document.errors.length > 0) throw new UsageError(`${source} is not valid YAML: ${document.errors[0]!.message}`);
    }
  }

  /** The documents of a kind (and name), as plain objects are matched. */
  find(kind: string, name?: string): Document.Parsed[] {
    return this.documents.filter((d) => d.get('kind') === kind && (name === undefined || d.getIn(['metadata', 'name']) === name));
  }

  /** Sets a scalar's value, keeping its style (plain, quoted, block literal). */
  setScalar(node: Scalar, value: string): void {
    const token = (node as Scalar & { srcToken?: CST.Token }).srcToken;
    if (token === undefined) throw new Error('scalar without a source token');
    // A map value: yaml indents a block scalar's lines two past the key, as kubectl and upstream manifests do.
    CST.setScalarValue(token, value, { afterKey: token.type === 'block-scalar' });
  }

  /** Appends a plain scalar to a block sequence, shaped like its last item. */
  appendToSeq(seq: YAMLSeq, value: string): void {
    const token = (seq as YAMLSeq & { srcToken?: CST.Token }).srcToken;
    if (token?.type !== 'block-seq' || token.items.length === 0) throw new UsageError('can only add to a non-empty block sequence');
    const item = JSON.parse(JSON.stringify(token.items.at(-1))) as CST.BlockSequence['items'][number];
    if (item.value === undefined) throw new UsageError('can only add to a sequence of scalars');
    CST.setScalarValue(item.value, value);
    token.items.push(item);
  }

  /** Removes items from a block sequence. */
  removeFromSeq(seq: YAMLSeq, index: number): void {
    const token = (seq as YAMLSeq & { srcToken?: CST.Token }).srcToken;
    if (token?.type !== 'block-seq') throw new UsageError('can only remove from a block sequence');
    token.items.splice(index, 1);
  }

  toString(): string {
    return this.tokens.map((t) => CST.stringify(t)).join('');
  }
}

export function asMap(node: unknown): YAMLMap | undefined {
  return isMap(node) ? node : undefined;
}

export function asSeq(node: unknown): YAMLSeq | undefined {
  return isSeq(node) ? node : undefined;
}

export function asScalar(node: unknown): Scalar | undefined {
  return isScalar(node) ? node : undefined;
}

export type { Node };
