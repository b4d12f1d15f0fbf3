// ============================================================================
// PLACEHOLDER — petrel-native is NOT implemented yet.
//
// To enable: implement startServer/createClient below with the Petrel native
// transport (same EchoService semantics and ~100-byte messages as the other
// systems; see ./index.ts for the BenchSystem interface and MESSAGE_* constants),
// then add "petrel-native" to DEFAULT_SYSTEMS in ./index.ts.
// Until then it only runs when asked for explicitly (--systems petrel-native),
// and each of its rows is reported as an error row.
// ============================================================================
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";

const NOT_IMPLEMENTED = "petrel-native: not implemented yet";

const system: BenchSystem = {
	name: "petrel-native",
	async startServer(_port: number): Promise<BenchServer> {
		throw new Error(NOT_IMPLEMENTED);
	},
	async createClient(_addr: {
		host: string;
		port: number;
	}): Promise<BenchClient> {
		throw new Error(NOT_IMPLEMENTED);
	},
};
export default system;
