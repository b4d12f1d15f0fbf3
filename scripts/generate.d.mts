/** Types of scripts/generate.mjs, for the staleness test. */

/** The repository root (absolute). */
export declare const root: string;
/** `[protoRoot, outDir]` pairs, both relative to the repository root. */
export declare const targets: ReadonlyArray<readonly [protoDir: string, outDir: string]>;
/** Generates every target whose proto root exists into `outRoot` (default: the work tree); returns the output dirs written. */
export declare function generate(outRoot?: string): string[];
