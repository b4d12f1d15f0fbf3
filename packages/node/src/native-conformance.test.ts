import { describeTransportConformance } from "@petrel/testing";
import { createNativeServer, createNativeTransport } from "@petrel/node";

describeTransportConformance("petrel/1 over TCP", async (router) => {
  const server = createNativeServer({ router });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
  return {
    transport,
    close: async () => {
      await transport.close();
      await server.close({ graceMs: 5000 });
    },
  };
});

describeTransportConformance("petrel/1 over TCP, pool of 3, tiny windows and frames", async (router) => {
  const settings = { maxFrameSize: 16_384, initialStreamWindow: 20_000, initialConnectionWindow: 70_000 };
  const server = createNativeServer({ router, settings });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const transport = createNativeTransport({ address: `127.0.0.1:${port}`, poolSize: 3, settings });
  return {
    transport,
    close: async () => {
      await transport.close();
      await server.close({ graceMs: 5000 });
    },
  };
});
