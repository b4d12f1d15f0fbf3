import { toBinary, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, RpcError, type Router, type ServiceImpl } from "@petrel/core";
import { buildDescriptorIndex, type DescriptorIndex } from "./descriptor-index.js";
import { ServerReflection } from "./gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * Options of `createReflectionService`: where the descriptors to expose come from. At least one
 * source is required; they combine.
 */
export interface ReflectionServiceOptions {
  /**
   * Exposes the services registered on this router (including the reflection service itself
   * once registered) with every file they import. Read on each request, so services registered
   * after `createReflectionService` are included. Default: none.
   */
  router?: Pick<Router, "services">;
  /** Services to expose, with every file they import. Default: none. */
  services?: readonly DescService[];
  /**
   * Extra files that can be looked up (with their imports), e.g. files declaring extensions or
   * types reached through `google.protobuf.Any`. Default: none.
   */
  files?: readonly DescFile[];
  /**
   * A protobuf-es registry whose files (every type's file; all files of a `FileRegistry`) can be
   * looked up, like `files`. Default: none.
   */
  registry?: Registry;
}

/** The reflection service, in both protocol versions. */
export interface ReflectionService {
  /** `grpc.reflection.v1.ServerReflection`: `router.service(ServerReflection, reflection.v1)`. */
  readonly v1: ServiceImpl<typeof ServerReflection>;
  /** `grpc.reflection.v1alpha.ServerReflection` (deprecated upstream), which older clients still call. */
  readonly v1alpha: ServiceImpl<typeof ServerReflectionV1alpha>;
  /** Registers both versions on `router` and returns it. */
  register(router: Router): Router;
}

/**
 * Creates gRPC server reflection (grpc/doc/server-reflection.md) with the semantics of grpc-go:
 *
 * - `list_services`: the sorted names of the exposed services (the router's and `services`;
 *   when neither is given, the services declared in `files` and `registry`).
 * - `file_by_filename`, `file_containing_symbol` (service, method, message, nested message,
 *   field, oneof, enum, enum value, extension) and `file_containing_extension` answer a
 *   `FileDescriptorResponse`: the file, serialized as `google.protobuf.FileDescriptorProto`,
 *   then its transitive imports breadth-first. The requested file is always sent; an import is
 *   sent at most once per stream.
 * - `all_extension_numbers_of_type`: the sorted extension numbers of a message (possibly none).
 * - Unknown names answer an `ErrorResponse` with NOT_FOUND and the stream goes on; a request
 *   with no `message_request` fails the stream with INVALID_ARGUMENT (as grpc-go does).
 *
 * Every response echoes `host` as `valid_host` and the request as `original_request`. It is an
 * ordinary Petrel service, so it works on every protocol.
 */
export function createReflectionService(options: ReflectionServiceOptions): ReflectionService {
  const opts = validateReflectionOptions(options);
  let cached: { roots: DescFile[]; services: string[]; index: DescriptorIndex } | undefined;

  /** The index for the current descriptors, rebuilt only when they changed. */
  const currentIndex = (): DescriptorIndex => {
    const { roots, services } = collect(opts);
    if (cached === undefined || !sameItems(cached.roots, roots) || !sameItems(cached.services, services)) {
      cached = { roots, services, index: buildDescriptorIndex(roots, services) };
    }
    return cached.index;
  };

  const serve = async function* <R extends RequestLike>(requests: AsyncIterable<R>): AsyncGenerator<ResponseInit<R>> {
    const sent = new Set<string>();
    for await (const req of requests) yield answer(req, currentIndex(), sent);
  };

  const v1: ServiceImpl<typeof ServerReflection> = { serverReflectionInfo: (requests) => serve(requests) };
  const v1alpha: ServiceImpl<typeof ServerReflectionV1alpha> = { serverReflectionInfo: (requests) => serve(requests) };
  return {
    v1,
    v1alpha,
    register: (router) => router.service(ServerReflection, v1).service(ServerReflectionV1alpha, v1alpha),
  };
}

/** The options checked, with defaults filled in. @internal */
interface ValidOptions {
  router: Pick<Router, "services"> | undefined;
  services: readonly DescService[];
  files: readonly DescFile[];
  registry: Registry | undefined;
}

function validateReflectionOptions(options: ReflectionServiceOptions): ValidOptions {
  if (options === null || typeof options !== "object") throw new TypeError("createReflectionService: options must be an object");
  const { router, services = [], files = [], registry } = options;
  if (router !== undefined && typeof router?.services !== "function") {
    throw new TypeError("createReflectionService: router must be a Petrel router (with services())");
  }
  if (!Array.isArray(services) || !services.every((s) => s?.kind === "service")) {
    throw new TypeError("createReflectionService: services must be an array of protobuf-es service descriptors (DescService)");
  }
  if (!Array.isArray(files) || !files.every((f) => f?.kind === "file")) {
    throw new TypeError("createReflectionService: files must be an array of protobuf-es file descriptors (DescFile)");
  }
  if (registry !== undefined && registry?.kind !== "registry") {
    throw new TypeError("createReflectionService: registry must be a protobuf-es Registry");
  }
  if (router === undefined && services.length === 0 && files.length === 0 && registry === undefined) {
    throw new TypeError("createReflectionService: give a router, services, files or a registry to expose");
  }
  return { router, services, files, registry };
}

/** The root files and listed service names of the descriptors exposed now. */
function collect(opts: ValidOptions): { roots: DescFile[]; services: string[] } {
  const roots = new Set<DescFile>();
  const names: string[] = [];
  const expose = (s: DescService): void => {
    roots.add(s.file);
    names.push(s.typeName);
  };
  if (opts.router !== undefined) for (const s of opts.router.services()) expose(s);
  for (const s of opts.services) expose(s);
  const listDeclared = opts.router === undefined && opts.services.length === 0;
  for (const f of opts.files) {
    roots.add(f);
    if (listDeclared) for (const s of f.services) names.push(s.typeName);
  }
  if (opts.registry !== undefined) {
    const files = (opts.registry as Partial<{ files: Iterable<DescFile> }>).files;
    if (files !== undefined) for (const f of files) roots.add(f);
    for (const desc of opts.registry) {
      roots.add(desc.file);
      if (listDeclared && desc.kind === "service") names.push(desc.typeName);
    }
  }
  return { roots: [...roots], services: names };
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A `ServerReflectionRequest` of either version. */
type RequestLike = {
  host: string;
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
};

/** A `ServerReflectionResponse` init of either version (the version comes from the request type). */
type ResponseInit<R> = {
  validHost: string;
  originalRequest: R;
  messageResponse:
    | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
    | { case: "listServicesResponse"; value: { service: { name: string }[] } }
    | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };
};

function answer<R extends RequestLike>(req: R, index: DescriptorIndex, sent: Set<string>): ResponseInit<R> {
  const reply = (messageResponse: ResponseInit<R>["messageResponse"]): ResponseInit<R> => ({
    validHost: req.host,
    originalRequest: req,
    messageResponse,
  });
  const notFound = (errorMessage: string) => reply({ case: "errorResponse", value: { errorCode: Code.NOT_FOUND, errorMessage } });
  const files = (file: DescFile) => reply({ case: "fileDescriptorResponse", value: { fileDescriptorProto: withImports(file, sent) } });

  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return reply({ case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } });
    case "fileByFilename": {
      const file = index.file(r.value);
      return file === undefined ? notFound(`file not found: ${r.value}`) : files(file);
    }
    case "fileContainingSymbol": {
      const file = index.fileOfSymbol(r.value);
      return file === undefined ? notFound(`symbol not found: ${r.value}`) : files(file);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = r.value;
      const ext = index.extension(containingType, extensionNumber);
      return ext === undefined ? notFound(`extension not found: ${containingType} field ${extensionNumber}`) : files(ext.file);
    }
    case "allExtensionNumbersOfType": {
      if (!index.isMessage(r.value)) return notFound(`message type not found: ${r.value}`);
      return reply({
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: r.value, extensionNumber: index.extensionNumbers(r.value) },
      });
    }
    default:
      throw new RpcError(Code.INVALID_ARGUMENT, "invalid ServerReflectionRequest: no message_request set");
  }
}

/** Serialized `FileDescriptorProto`s, cached per descriptor (descriptors are immutable). */
const encoded = new WeakMap<DescFile, Uint8Array>();

function encode(file: DescFile): Uint8Array {
  let bytes = encoded.get(file);
  if (bytes === undefined) {
    bytes = toBinary(FileDescriptorProtoSchema, file.proto);
    encoded.set(file, bytes);
  }
  return bytes;
}

/**
 * `file`, then its transitive imports breadth-first, skipping imports already in `sent` (the
 * stream's record, updated). Like grpc-go, the requested file itself is always included.
 */
function withImports(file: DescFile, sent: Set<string>): Uint8Array[] {
  const out = [encode(file)];
  sent.add(file.proto.name);
  const seen = new Set<string>([file.proto.name]);
  const queue = [...file.dependencies];
  for (let i = 0; i < queue.length; i++) {
    const dep = queue[i];
    const path = dep.proto.name;
    if (seen.has(path)) continue;
    seen.add(path);
    if (!sent.has(path)) {
      sent.add(path);
      out.push(encode(dep));
    }
    for (const d of dep.dependencies) queue.push(d);
  }
  return out;
}
