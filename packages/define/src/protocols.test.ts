// The same suite over real sockets: petrel/1 over TCP and gRPC over HTTP/2 (h2c), both codecs.
import { createGrpcServer, createGrpcTransport, createNativeServer, createNativeTransport } from "@petrel/node";
import { describeTypedService } from "./arith.suite.js";

describeTypedService("defineService over petrel/1 (TCP)", ["proto", "json"], async (router) => {
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

describeTypedService("defineService over gRPC", ["proto", "json"], async (router) => {
  const server = createGrpcServer({ router });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
  return {
    transport,
    close: async () => {
      await transport.close();
      await server.close({ graceMs: 5000 });
    },
  };
});
