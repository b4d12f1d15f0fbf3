// grpc-js: @grpc/grpc-js server + client, service loaded at run time from
// bench/proto/echo.proto with @grpc/proto-loader. One channel = one HTTP/2
// connection; all in-flight calls are multiplexed on it.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type BenchClient, type BenchServer, type BenchSystem, MESSAGE_PAYLOAD, MESSAGE_TEXT, seqOf } from "./index.ts";

const PROTO = fileURLToPath(new URL("../../proto/echo.proto", import.meta.url));

interface EchoMessage {
  text: string;
  seq: number;
  payload: Buffer;
}
interface StreamEchoRequest {
  count: number;
  template: EchoMessage | null;
}
type EchoClient = grpc.Client & {
  Echo(req: EchoMessage, cb: (err: grpc.ServiceError | null, res?: EchoMessage) => void): grpc.ClientUnaryCall;
  StreamEcho(req: StreamEchoRequest): grpc.ClientReadableStream<EchoMessage>;
};

function loadService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: Number,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    petrel: { bench: { v1: { EchoService: grpc.ServiceClientConstructor } } };
  };
  return pkg.petrel.bench.v1.EchoService;
}

async function startServer(port: number): Promise<BenchServer> {
  const service = loadService();
  const server = new grpc.Server();
  server.addService(service.service, {
    Echo(call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) {
      cb(null, call.request);
    },
    StreamEcho(call: grpc.ServerWritableStream<StreamEchoRequest, EchoMessage>) {
      const { count, template } = call.request;
      const text = template?.text ?? "";
      const payload = template?.payload ?? Buffer.alloc(0);
      let i = 0;
      let cancelled = false;
      call.on("cancelled", () => {
        cancelled = true;
      });
      call.on("error", () => {});
      const pump = (): void => {
        while (i < count) {
          if (cancelled) return;
          const ok = call.write({ text, seq: seqOf(i++), payload });
          if (!ok) {
            call.once("drain", pump);
            return;
          }
        }
        call.end();
      };
      pump();
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

async function createClient(addr: { host: string; port: number }): Promise<BenchClient> {
  const Service = loadService();
  const client = new Service(`${addr.host}:${addr.port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  let seq = 0;
  return {
    unary() {
      return new Promise<void>((resolve, reject) => {
        client.Echo({ text: MESSAGE_TEXT, seq: seqOf(seq++), payload: MESSAGE_PAYLOAD }, (err) => (err ? reject(err) : resolve()));
      });
    },
    serverStream(count, onMessage) {
      return new Promise<void>((resolve, reject) => {
        const call = client.StreamEcho({
          count,
          template: {
            text: MESSAGE_TEXT,
            seq: seqOf(0),
            payload: MESSAGE_PAYLOAD,
          },
        });
        call.on("data", () => onMessage());
        call.on("error", reject);
        call.on("end", () => resolve());
      });
    },
    async close() {
      client.close();
    },
  };
}

const system: BenchSystem = { name: "grpc-js", startServer, createClient };
export default system;
