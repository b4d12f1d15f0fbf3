// Test fixtures: a small import graph built at runtime from FileDescriptorProtos, so the tests
// cover transitive imports, nested types, oneofs, enum values and extensions (the generated test
// and health protos import nothing and declare no extensions):
//
//   petrel/reflect/v1/widget.proto (proto3)  service WidgetService, message Widget { Part, Shape, oneof choice }, enum Kind
//     -> petrel/reflect/v1/common.proto (proto2)  message Base { extensions 100 to 199 }, enum Level
//          -> google/protobuf/timestamp.proto
//     -> google/protobuf/empty.proto
//   petrel/reflect/v1/ext.proto (proto2)  extend Base { note = 100 }; message Holder { extend Base { weight = 101 } }
//     -> petrel/reflect/v1/common.proto
import { create, createFileRegistry, type DescFile, type DescService } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_empty,
  file_google_protobuf_timestamp,
  type FieldDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@petrel/core";

export const PKG = "petrel.reflect.v1";
export const WIDGET_PROTO = "petrel/reflect/v1/widget.proto";
export const COMMON_PROTO = "petrel/reflect/v1/common.proto";
export const EXT_PROTO = "petrel/reflect/v1/ext.proto";

type FieldInit = Partial<Omit<FieldDescriptorProto, "$typeName">>;

const field = (name: string, number: number, type: Type, more: FieldInit = {}): FieldInit => ({
  name,
  number,
  type,
  label: Label.OPTIONAL,
  jsonName: name,
  ...more,
});

const commonProto = create(FileDescriptorProtoSchema, {
  name: COMMON_PROTO,
  package: PKG,
  syntax: "proto2",
  dependency: ["google/protobuf/timestamp.proto"],
  messageType: [
    {
      name: "Base",
      field: [field("id", 1, Type.STRING), field("at", 2, Type.MESSAGE, { typeName: ".google.protobuf.Timestamp" })],
      extensionRange: [{ start: 100, end: 200 }],
    },
  ],
  enumType: [{ name: "Level", value: [{ name: "LEVEL_LOW", number: 1 }] }],
});

const widgetProto = create(FileDescriptorProtoSchema, {
  name: WIDGET_PROTO,
  package: PKG,
  syntax: "proto3",
  dependency: [COMMON_PROTO, "google/protobuf/empty.proto"],
  messageType: [
    {
      name: "Widget",
      field: [
        field("name", 1, Type.STRING),
        field("base", 2, Type.MESSAGE, { typeName: `.${PKG}.Base` }),
        field("kind", 3, Type.ENUM, { typeName: `.${PKG}.Kind` }),
        field("parts", 4, Type.MESSAGE, { typeName: `.${PKG}.Widget.Part`, label: Label.REPEATED }),
        field("a", 5, Type.STRING, { oneofIndex: 0 }),
        field("b", 6, Type.INT32, { oneofIndex: 0 }),
      ],
      nestedType: [
        {
          name: "Part",
          field: [field("label", 1, Type.STRING), field("shape", 2, Type.ENUM, { typeName: `.${PKG}.Widget.Part.Shape` })],
          enumType: [
            {
              name: "Shape",
              value: [
                { name: "SHAPE_UNSPECIFIED", number: 0 },
                { name: "SHAPE_ROUND", number: 1 },
              ],
            },
          ],
        },
      ],
      oneofDecl: [{ name: "choice" }],
    },
    { name: "GetWidgetRequest", field: [field("name", 1, Type.STRING)] },
  ],
  enumType: [
    {
      name: "Kind",
      value: [
        { name: "KIND_UNSPECIFIED", number: 0 },
        { name: "KIND_A", number: 1 },
      ],
    },
  ],
  service: [
    {
      name: "WidgetService",
      method: [
        { name: "GetWidget", inputType: `.${PKG}.GetWidgetRequest`, outputType: `.${PKG}.Widget` },
        { name: "Ping", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" },
      ],
    },
  ],
});

const extProto = create(FileDescriptorProtoSchema, {
  name: EXT_PROTO,
  package: PKG,
  syntax: "proto2",
  dependency: [COMMON_PROTO],
  extension: [field("note", 100, Type.STRING, { extendee: `.${PKG}.Base` })],
  messageType: [{ name: "Holder", extension: [field("weight", 101, Type.INT32, { extendee: `.${PKG}.Base` })] }],
});

const registry = (() => {
  const wkt = new Map<string, DescFile>([
    ["google/protobuf/timestamp.proto", file_google_protobuf_timestamp],
    ["google/protobuf/empty.proto", file_google_protobuf_empty],
  ]);
  const common = createFileRegistry(commonProto, (name) => wkt.get(name)).getFile(COMMON_PROTO)!;
  const deps = new Map<string, DescFile>([...wkt, [COMMON_PROTO, common]]);
  const widget = createFileRegistry(widgetProto, (name) => deps.get(name)).getFile(WIDGET_PROTO)!;
  const ext = createFileRegistry(extProto, (name) => deps.get(name)).getFile(EXT_PROTO)!;
  return { common, widget, ext };
})();

/** `petrel/reflect/v1/widget.proto`. */
export const widgetFile: DescFile = registry.widget;
/** `petrel/reflect/v1/common.proto`. */
export const commonFile: DescFile = registry.common;
/** `petrel/reflect/v1/ext.proto`: reachable only when given to reflection explicitly (nothing imports it). */
export const extFile: DescFile = registry.ext;
/** `petrel.reflect.v1.WidgetService`. */
export const WidgetService: DescService = widgetFile.services[0];

/** A trivial WidgetService implementation (the tests only reflect on it). */
export const widgetImpl = {
  getWidget: (req: { name: string }) => ({ name: req.name }),
  ping: () => ({}),
} as unknown as ServiceImpl<DescService>;
