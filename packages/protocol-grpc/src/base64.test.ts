import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeBase64, encodeBase64 } from "./base64.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("base64", () => {
  it("encodes the RFC 4648 test vectors, unpadded by default", () => {
    const vectors: Array<[string, string]> = [
      ["", ""],
      ["f", "Zg=="],
      ["fo", "Zm8="],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg=="],
      ["fooba", "Zm9vYmE="],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, padded] of vectors) {
      assert.equal(encodeBase64(bytes(plain), true), padded);
      assert.equal(encodeBase64(bytes(plain)), padded.replace(/=+$/, ""));
      assert.deepEqual(decodeBase64(padded), bytes(plain));
      assert.deepEqual(decodeBase64(padded.replace(/=+$/, "")), bytes(plain));
    }
  });

  it("uses the standard alphabet", () => {
    assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff, 0xbf])), "+/+/");
    assert.deepEqual(decodeBase64("+/+/"), new Uint8Array([0xfb, 0xff, 0xbf]));
  });

  it("round-trips any bytes, padded or not, and agrees with Buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (b, pad) => {
        const s = encodeBase64(b, pad);
        assert.equal(s, pad ? Buffer.from(b).toString("base64") : Buffer.from(b).toString("base64").replace(/=+$/, ""));
        assert.deepEqual(decodeBase64(s), b);
      }),
      { numRuns: 5_000 },
    );
  });

  it("ignores unused low bits of the last character, as Go does", () => {
    assert.deepEqual(decodeBase64("Zh"), bytes("f"));
    assert.deepEqual(decodeBase64("Zm9="), bytes("fo"));
  });

  it("throws TypeError on invalid input", () => {
    const bad = [
      "Z",
      "Zm9vY",
      "Zg=",
      "Zg===",
      "=",
      "==",
      "====",
      "Z===",
      "Zm=v",
      "Zm 9v",
      " Zm9v",
      "Zm9v\n",
      "Zm-_",
      "Zm9v=",
      "Zm9v====",
      "Zé9v",
      "Zm9v!",
    ];
    for (const s of bad) assert.throws(() => decodeBase64(s), TypeError, JSON.stringify(s));
  });
});
