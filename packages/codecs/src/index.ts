export { createAvroCodec, AVRO_SINGLE_OBJECT_MAGIC, type AvroCodec, type AvroCodecOptions } from "./avro-codec.js";
export { createAvroSchemaRegistry, type AvroSchema, type AvroSchemaEntry, type AvroSchemaRegistry } from "./avro-registry.js";
export { AVRO_FINGERPRINT_KEY, createAvroFingerprintInterceptor, createAvroServerFingerprintInterceptor } from "./avro-metadata.js";
export { avroRabin, avroFingerprintBytes } from "./avro-fingerprint.js";
export { deriveAvroSchema } from "./avro-schema.js";
export { flatbuffersCodec, fbView, fbMessage, fbAligned, type FlatbuffersRoot } from "./flatbuffers-codec.js";
export { createMsgpackCodec, msgpackCodec, type MsgpackCodecOptions } from "./msgpack.js";
