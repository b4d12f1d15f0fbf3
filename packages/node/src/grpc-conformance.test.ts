import { describeTransportConformance } from "@petrel/testing";
import { createGrpcServer, createGrpcTransport } from "@petrel/node";

describeTransportConformance("gRPC over HTTP/2 (h2c)", async (router) => {
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
