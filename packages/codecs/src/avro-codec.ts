import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Codec } from "@petrel/core";
import type avro from "avsc";

type AvroResolver = ReturnType<avro.Type["createResolver"]>;
import {
  type AvroSchema,
  type AvroSchemaEntry,
  type AvroSchemaRegistry,
  createAvroSchemaRegistry,
  parseAvroSchema,
} from "./avro-registry.js";
import { avroToMessage, deriveAvroSchema, messageToAvro } from "./avro-schema.js";

/**
 * Wire format: every message is an Avro single-object encoding (spec "Single object encoding"):
 * `C3 01`, the writer schema's 8-byte CRC-64-AVRO fingerprint (little-endian), then the Avro
 * binary body. Why per message and not only in call metadata: a Codec's `decode(schema, bytes)`
 * sees no metadata, and the standard header makes each payload self-describing (streams, stored
 * payloads, Python's or Java's `BinaryMessageDecoder` all read it). The same fingerprint is also
 * sent as `x-petrel-avro-fingerprint` call metadata by `createAvroFingerprintInterceptor`.
 */
export const AVRO_SINGLE_OBJECT_MAGIC = Object.freeze([0xc3, 0x01]);

/** Options of `createAvroCodec`. */
export interface AvroCodecOptions {
  /** Wire name. Default: `avro`. */
  name?: string;
  /**
   * Avro schemas supplied by the user, keyed by full protobuf message name (`pkg.Message`); they
   * replace the derived schema as both writer and reader schema of that message. Field names are
   * the proto field names; use Avro `aliases` for renamed fields. Default: none (all derived).
   */
  schemas?: Record<string, AvroSchema>;
  /**
   * Known writer schemas by fingerprint, used to resolve data written with another schema version.
   * The codec adds its own schemas to it. Default: a new registry.
   */
  registry?: AvroSchemaRegistry;
}

/** The Avro codec: a Codec plus access to its schemas. */
export interface AvroCodec extends Codec {
  /** The registry the codec resolves writer fingerprints with. */
  readonly registry: AvroSchemaRegistry;
  /** The writer (= reader) schema of `desc`: JSON form and fingerprint. Adds it to the registry. */
  schemaOf(desc: DescMessage): { schema: object; fingerprint: string };
}

interface Local {
  entry: AvroSchemaEntry;
  header: Uint8Array; // magic + fingerprint, copied in front of every body
  resolvers: Map<string, AvroResolver>;
}

/** Creates the `avro` codec (avsc). */
export function createAvroCodec(options: AvroCodecOptions = {}): AvroCodec {
  const registry = options.registry ?? createAvroSchemaRegistry();
  const userSchemas = options.schemas ?? {};
  const locals = new Map<string, Local>();

  function local(desc: DescMessage): Local {
    let l = locals.get(desc.typeName);
    if (l === undefined) {
      const schema = userSchemas[desc.typeName] ?? (deriveAvroSchema(desc) as AvroSchema);
      const fp = registry.add(schema);
      const entry = registry.get(fp) ?? parseAvroSchema(schema);
      const header = new Uint8Array(10);
      header.set(AVRO_SINGLE_OBJECT_MAGIC);
      for (let i = 0; i < 8; i++) header[2 + i] = Number.parseInt(fp.slice(2 * i, 2 * i + 2), 16);
      l = { entry, header, resolvers: new Map() };
      locals.set(desc.typeName, l);
    }
    return l;
  }

  function resolverFor(l: Local, fp: string, desc: DescMessage): AvroResolver {
    let r = l.resolvers.get(fp);
    if (r === undefined) {
      const writer = registry.get(fp);
      if (writer === undefined) {
        throw new Error(
          `avro: unknown writer schema fingerprint ${fp} for ${desc.typeName}; add the writer's schema to the codec's registry`,
        );
      }
      try {
        r = l.entry.type.createResolver(writer.type);
      } catch (e) {
        throw new Error(`avro: writer schema ${fp} cannot be read as ${desc.typeName} (${l.entry.fingerprint}): ${(e as Error).message}`);
      }
      l.resolvers.set(fp, r);
    }
    return r;
  }

  return {
    name: options.name ?? "avro",
    registry,
    schemaOf(desc) {
      const l = local(desc);
      // With defaults and aliases: canonical form drops them, but readers need them to resolve.
      return { schema: l.entry.type.schema({ exportAttrs: true }) as object, fingerprint: l.entry.fingerprint };
    },
    encode<D extends DescMessage>(desc: D, message: MessageShape<D>): Uint8Array {
      const l = local(desc);
      const value = messageToAvro(desc, message as Record<string, unknown>);
      let body: Buffer;
      try {
        body = l.entry.type.toBuffer(value);
      } catch (e) {
        throw new Error(`avro: cannot encode ${desc.typeName}: ${(e as Error).message}`);
      }
      const out = new Uint8Array(10 + body.length);
      out.set(l.header);
      out.set(body, 10);
      return out;
    },
    decode<D extends DescMessage>(desc: D, bytes: Uint8Array): MessageShape<D> {
      if (bytes.length < 10 || bytes[0] !== 0xc3 || bytes[1] !== 0x01) {
        throw new Error(`avro: not an Avro single-object payload for ${desc.typeName} (expected C3 01 + 8-byte fingerprint)`);
      }
      const l = local(desc);
      let fp = "";
      for (let i = 2; i < 10; i++) fp += (bytes[i] as number).toString(16).padStart(2, "0");
      const body = Buffer.from(bytes.buffer, bytes.byteOffset + 10, bytes.length - 10);
      const resolver = fp === l.entry.fingerprint ? undefined : resolverFor(l, fp, desc);
      let value: Record<string, unknown>;
      try {
        value = l.entry.type.fromBuffer(body, resolver) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`avro: malformed ${desc.typeName} payload: ${(e as Error).message}`);
      }
      return avroToMessage(desc, value);
    },
  };
}
