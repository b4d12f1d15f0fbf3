import { create } from "@bufbuild/protobuf";
import { InstanceSchema, type Instance } from "./gen/petrel/registry/v1/registry_pb.js";
import type { Endpoint } from "./types.js";

/** @internal Endpoint -> wire Instance; the id defaults to the address. */
export function toInstance(e: Endpoint): Instance {
  return create(InstanceSchema, {
    id: e.id || e.address,
    address: e.address,
    protocols: e.protocols ? [...e.protocols] : [],
    weight: e.weight ?? 0,
    zone: e.zone ?? "",
    version: e.version ?? "",
    metadata: e.metadata ? { ...e.metadata } : {},
  });
}

/** @internal Wire Instance -> Endpoint, leaving out fields the registrant did not set. */
export function toEndpoint(i: Instance): Endpoint {
  const e: { -readonly [K in keyof Endpoint]: Endpoint[K] } = { id: i.id || i.address, address: i.address };
  if (i.protocols.length > 0) e.protocols = [...i.protocols];
  if (i.weight > 0) e.weight = i.weight;
  if (i.zone !== "") e.zone = i.zone;
  if (i.version !== "") e.version = i.version;
  if (Object.keys(i.metadata).length > 0) e.metadata = { ...i.metadata };
  return e;
}

/** @internal Whether two endpoints carry the same data (order of protocols and metadata keys aside). */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return canonical(a) === canonical(b);
}

function canonical(e: Endpoint): string {
  const md = e.metadata ? Object.entries(e.metadata).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)) : [];
  return JSON.stringify([e.id, e.address, e.protocols ?? [], e.weight ?? 1, e.zone ?? "", e.version ?? "", md]);
}
