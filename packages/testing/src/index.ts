export { createTestServiceImpl, type TestServiceProbe } from "./test-service.js";
export {
  describeTransportConformance,
  drain,
  eventually,
  expectRpcError,
  from,
  type ConformanceSetup,
  type ConformanceTarget,
} from "./conformance.js";
export * from "./gen/petrel/testing/v1/test_pb.js";
export { createTestCerts, opensslPath, type TestCerts, type TestKeyPair } from "./test-certs.js";
export { buildGoProgram, goAvailable, offlineGoEnv, type GoBuildOptions } from "./go-build.js";
export { FakeClock, settle } from "./fake-clock.js";
