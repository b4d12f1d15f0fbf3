// Go net/rpc's classic Arith service as a protobuf service built at run time (no codegen), for
// the Go and Python JSON-RPC peer tests. Field JSON names are Go's exported names (A, B, Quo, Rem),
// and Multiply returns google.protobuf.Int32Value, whose JSON is a bare number, as Go's `*int` reply.
import { create, createFileRegistry, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import { Code, RpcError, type ServiceImpl } from "@petrel/core";

const INT32 = 5; // FieldDescriptorProto.Type.TYPE_INT32
const OPTIONAL = 1; // FieldDescriptorProto.Label.LABEL_OPTIONAL

const field = (name: string, number: number) => ({ name, number, type: INT32, label: OPTIONAL, jsonName: name });

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "petrel/jsonrpc/test/arith.proto",
    package: "petrel.jsonrpc.test",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    messageType: [
      { name: "Args", field: [field("A", 1), field("B", 2)] },
      { name: "Quotient", field: [field("Quo", 1), field("Rem", 2)] },
    ],
    service: [
      {
        name: "Arith",
        method: [
          { name: "Multiply", inputType: ".petrel.jsonrpc.test.Args", outputType: ".google.protobuf.Int32Value" },
          { name: "Divide", inputType: ".petrel.jsonrpc.test.Args", outputType: ".petrel.jsonrpc.test.Quotient" },
        ],
      },
    ],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined),
);

/** `petrel.jsonrpc.test.Arith`. @internal test fixture */
export const ArithService = registry.getService("petrel.jsonrpc.test.Arith") as DescService;
/** `petrel.jsonrpc.test.Args`. @internal */
export const ArgsSchema = registry.getMessage("petrel.jsonrpc.test.Args") as DescMessage;

interface Args {
  A: number;
  B: number;
}

/** The Arith implementation: Multiply, and Divide that fails INVALID_ARGUMENT on zero. @internal */
export const arithImpl = {
  multiply(req: Args) {
    return { value: req.A * req.B };
  },
  divide(req: Args) {
    if (req.B === 0) throw new RpcError(Code.INVALID_ARGUMENT, "divide by zero");
    return { Quo: Math.trunc(req.A / req.B), Rem: req.A % req.B };
  },
} as unknown as ServiceImpl<DescService>;
