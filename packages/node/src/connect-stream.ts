// Connect streaming (`application/connect+<codec>`): enveloped messages both ways, ending with an
// end-stream envelope (flag 0x02) holding `{error?, metadata?}`; always HTTP 200 once started.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, type Codec, type Metadata, type MethodHandler, RpcError, type ServerContext } from "@petrel/core";
import { type Compression, frameMessage, metadataToHeaders } from "@petrel/protocol-grpc";
import { connectErrorJson, metadataJson } from "./connect-error-json.js";
import { WebCall, bodyChunks, encodeMessage, envelopedMessages } from "./connect-http-call.js";
import { type ConnectConfig, newContext, parseTimeout, requestCompression, responseCompression } from "./connect-request.js";
import type { HttpRequest, HttpResponse } from "./http-handler.js";

/** The end-stream envelope flag. */
export const CONNECT_END_STREAM_FLAG = 0x02;

/** Serves one streaming call. @internal */
export function serveStream(handler: MethodHandler, codec: Codec, req: HttpRequest, res: HttpResponse, config: ConnectConfig): void {
  const contentType = `application/connect+${codec.name}`;
  let timeoutMs: number | undefined;
  let compression: Compression | undefined;
  let ctx: ServerContext;
  try {
    timeoutMs = parseTimeout(req.headers["connect-timeout-ms"]);
    compression = requestCompression(config, req.headers["connect-content-encoding"] as string | undefined);
    ctx = newContext(handler, req, timeoutMs);
  } catch (e) {
    // Streaming errors are always HTTP 200 with the error in the end-stream message.
    res.writeHead(200, { "content-type": contentType });
    res.end(endStream(RpcError.from(e, Code.INTERNAL), undefined));
    req.resume();
    return;
  }
  const input = envelopedMessages(bodyChunks(req), codec, handler.method.input, config.maxRecv, compression);
  const accepted = responseCompression(config, req.headers["connect-accept-encoding"]);
  new ConnectStreamCall(req, res, handler, ctx, config, codec, contentType, accepted).run(timeoutMs, input);
}

/** The end-stream envelope: `{error?, metadata?}` with flag 0x02. */
function endStream(err: RpcError | undefined, trailer: Metadata | undefined): Buffer {
  const o: Record<string, unknown> = {};
  const md: Record<string, string[]> = {};
  metadataJson(md, trailer);
  if (err !== undefined) {
    o.error = connectErrorJson(err);
    metadataJson(md, err.metadata);
  }
  for (const _ in md) {
    o.metadata = md;
    break;
  }
  const frame = frameMessage(Buffer.from(JSON.stringify(o)), false, Buffer.allocUnsafe);
  frame[0] = CONNECT_END_STREAM_FLAG;
  return frame;
}

class ConnectStreamCall extends WebCall {
  constructor(
    req: HttpRequest,
    res: HttpResponse,
    handler: MethodHandler,
    ctx: ServerContext,
    config: ConnectConfig,
    private readonly codec: Codec,
    private readonly contentType: string,
    private readonly accepted: Compression | undefined,
  ) {
    super(req, res, handler, ctx, config);
  }

  private sendHeaders(): void {
    if (this.res.headersSent) return;
    const headers: Record<string, string | string[]> = {};
    const h = this.ctx.peekResponseHeader();
    if (h !== undefined) metadataToHeaders(h, headers);
    headers["content-type"] = this.contentType;
    headers["connect-accept-encoding"] = (this.config as ConnectConfig).compressions.acceptEncoding();
    if (this.accepted !== undefined) headers["connect-content-encoding"] = this.accepted.name;
    this.res.writeHead(200, headers);
  }

  protected async sendMessage(message: MessageShape<DescMessage>): Promise<void> {
    const bytes = encodeMessage(this.codec, this.handler.method.output, message);
    this.checkSend(bytes);
    let frame: Buffer;
    if (this.accepted !== undefined && bytes.length >= (this.config as ConnectConfig).compressMinBytes) {
      frame = frameMessage(await this.accepted.compress(bytes), true, Buffer.allocUnsafe);
    } else frame = frameMessage(bytes, false, Buffer.allocUnsafe);
    if (this.done) return;
    this.sendHeaders();
    await this.write(frame);
  }

  protected finish(): void {
    this.sendHeaders();
    this.res.end(endStream(undefined, this.ctx.peekResponseTrailer()));
  }

  protected sendError(err: RpcError): void {
    this.sendHeaders();
    this.res.end(endStream(err, this.ctx.peekResponseTrailer()));
  }
}
