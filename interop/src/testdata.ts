import { fileURLToPath } from "node:url";

/** Path of a file in interop/testdata (gRPC's interop test certificates). */
export function testdata(name: string): string {
  return fileURLToPath(new URL(`../testdata/${name}`, import.meta.url));
}

/** The host name gRPC's interop test certificate is valid for (`--server_host_override`'s usual value). */
export const TEST_SERVER_HOST_OVERRIDE = "foo.test.google.fr";
