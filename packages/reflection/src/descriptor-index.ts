import type { DescEnum, DescExtension, DescFile, DescMessage } from "@bufbuild/protobuf";

/**
 * Everything reflection can answer, built from a set of root files and their transitive imports.
 * @internal
 */
export interface DescriptorIndex {
  /** Fully-qualified names of the services to list, sorted. */
  readonly services: readonly string[];
  /** A file by its path (`foo/bar.proto`). */
  file(path: string): DescFile | undefined;
  /** The file declaring a fully-qualified symbol (service, method, message, field, oneof, enum, enum value, extension). */
  fileOfSymbol(name: string): DescFile | undefined;
  /** Whether `name` is a message type. */
  isMessage(name: string): boolean;
  /** The extension of message `extendee` with field number `number`. */
  extension(extendee: string, number: number): DescExtension | undefined;
  /** Field numbers of every known extension of message `extendee`, sorted. */
  extensionNumbers(extendee: string): number[];
}

/**
 * Indexes `roots` and everything they import. Files are keyed by path: when two distinct
 * descriptors share a path (e.g. two copies of a package), the first one wins, and so do its
 * symbols. `services` are the names `list_services` answers.
 * @internal
 */
export function buildDescriptorIndex(roots: Iterable<DescFile>, services: Iterable<string>): DescriptorIndex {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Set<string>();
  const extensions = new Map<string, Map<number, DescExtension>>();

  const addSymbol = (name: string, file: DescFile): void => {
    if (!symbols.has(name)) symbols.set(name, file);
  };
  const addExtension = (ext: DescExtension, file: DescFile): void => {
    addSymbol(ext.typeName, file);
    let byNumber = extensions.get(ext.extendee.typeName);
    if (byNumber === undefined) {
      byNumber = new Map();
      extensions.set(ext.extendee.typeName, byNumber);
    }
    if (!byNumber.has(ext.number)) byNumber.set(ext.number, ext);
  };
  const addEnum = (e: DescEnum, file: DescFile): void => {
    addSymbol(e.typeName, file);
    // Enum values are scoped like C++ enumerators: siblings of their enum, not children of it.
    const scope = e.parent?.typeName ?? file.proto.package;
    for (const v of e.values) addSymbol(scope === "" ? v.name : `${scope}.${v.name}`, file);
  };
  const addMessage = (m: DescMessage, file: DescFile): void => {
    addSymbol(m.typeName, file);
    messages.add(m.typeName);
    for (const f of m.fields) addSymbol(`${m.typeName}.${f.name}`, file);
    for (const o of m.oneofs) addSymbol(`${m.typeName}.${o.name}`, file);
    for (const n of m.nestedMessages) addMessage(n, file);
    for (const e of m.nestedEnums) addEnum(e, file);
    for (const x of m.nestedExtensions) addExtension(x, file);
  };

  // Breadth-first over a queue, in the order given: earlier roots win path clashes, and a deep
  // import graph cannot overflow the stack.
  const queue = [...roots];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i];
    const path = file.proto.name;
    if (files.has(path)) continue;
    files.set(path, file);
    for (const s of file.services) {
      addSymbol(s.typeName, file);
      for (const m of s.methods) addSymbol(`${s.typeName}.${m.name}`, file);
    }
    for (const m of file.messages) addMessage(m, file);
    for (const e of file.enums) addEnum(e, file);
    for (const x of file.extensions) addExtension(x, file);
    for (const dep of file.dependencies) if (!files.has(dep.proto.name)) queue.push(dep);
  }

  const serviceNames = [...new Set(services)].sort();
  return {
    services: serviceNames,
    file: (path) => files.get(path),
    fileOfSymbol: (name) => symbols.get(name),
    isMessage: (name) => messages.has(name),
    extension: (extendee, number) => extensions.get(extendee)?.get(number),
    extensionNumbers: (extendee) => [...(extensions.get(extendee)?.keys() ?? [])].sort((a, b) => a - b),
  };
}
