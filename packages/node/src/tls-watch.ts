import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname, resolve } from "node:path";
import { createSecureContext } from "node:tls";

/** Where {@link watchTlsFiles} reads the PEM files from. */
export interface TlsFilePaths {
  keyPath: string;
  certPath: string;
  /** CA bundle (for client certificates on a server, or the server's on a client). Optional. */
  caPath?: string;
}

/** What {@link watchTlsFiles} hands to `onChange`: the files' new contents. */
export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
  ca?: Buffer;
}

/** Options of {@link watchTlsFiles}. */
export interface WatchTlsFilesOptions {
  /** Wait this long (ms) after the last change before reading, so a key and certificate written one after the other are read together. Default 200. */
  debounceMs?: number;
  /** Sees files that could not be read or do not form a valid key pair (`onChange` is not called then). Default: ignored. */
  onError?: (error: Error) => void;
}

/** A running watcher; `close()` stops it (no callback runs afterwards). */
export interface TlsFileWatcher {
  close(): void;
}

function readAll(paths: TlsFilePaths): TlsFiles {
  const files: TlsFiles = { key: readFileSync(paths.keyPath), cert: readFileSync(paths.certPath) };
  if (paths.caPath !== undefined) files.ca = readFileSync(paths.caPath);
  // A half-written or mismatched pair must not reach the server: check it forms a usable context.
  createSecureContext({ key: files.key, cert: files.cert, ca: files.ca });
  return files;
}

function same(a: TlsFiles, b: TlsFiles): boolean {
  return (
    a.key.equals(b.key) && a.cert.equals(b.cert) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca))
  );
}

/**
 * Watches a key, certificate and CA file and calls `onChange` with their contents whenever they
 * changed and still form a valid key pair, e.g. `watchTlsFiles(paths, (t) => server.setTls({ ...t }))`.
 * It watches the files' directories, not the files: certificate rotators (cert-manager, certbot,
 * editors) replace files by rename, which a watch on the old inode never sees. Changes are
 * debounced; the files are read once at start (throws if they are unreadable or invalid).
 */
export function watchTlsFiles(
  paths: TlsFilePaths,
  onChange: (files: TlsFiles) => void,
  options: WatchTlsFilesOptions = {},
): TlsFileWatcher {
  if (typeof paths !== "object" || paths === null || typeof paths.keyPath !== "string" || typeof paths.certPath !== "string") {
    throw new TypeError("watchTlsFiles: keyPath and certPath are required");
  }
  if (typeof onChange !== "function") throw new TypeError("watchTlsFiles: onChange must be a function");
  const debounceMs = options.debounceMs ?? 200;
  let current = readAll(paths);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const check = () => {
    timer = undefined;
    if (closed) return;
    let next: TlsFiles;
    try {
      next = readAll(paths);
    } catch (e) {
      options.onError?.(e as Error);
      return;
    }
    if (same(current, next)) return;
    current = next;
    try {
      onChange(next);
    } catch (e) {
      options.onError?.(e as Error);
    }
  };
  const schedule = () => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
  };
  const dirs = new Set(
    [paths.keyPath, paths.certPath, paths.caPath].filter((p): p is string => p !== undefined).map((p) => dirname(resolve(p))),
  );
  const watchers: FSWatcher[] = [];
  try {
    for (const dir of dirs) {
      const w = watch(dir, { persistent: true }, schedule);
      w.on("error", (e) => options.onError?.(e));
      watchers.push(w);
    }
  } catch (e) {
    for (const w of watchers) w.close();
    throw e;
  }
  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
