import { createInMemoryTransport } from "@petrel/core";
import { describeTransportConformance } from "@petrel/testing";

describeTransportConformance("in-memory", async (router) => ({
  transport: createInMemoryTransport(router),
  close: async () => {},
}));
