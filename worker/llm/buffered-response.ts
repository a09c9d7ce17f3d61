/**
 * A fetch `Response` over a body already in memory, for the SDKs under node-http-fetch.ts.
 *
 * Why: a standard Response wraps even a buffered body in a web ReadableStream, and `json()` then
 * reads it back through that stream: at a thousand calls in flight that was about 6% of the
 * worker's CPU and much of its garbage. Here `json()`, `text()`, `arrayBuffer()` and `clone()`
 * work on the buffer directly. Anything that needs the stream or another body type (`body`,
 * `blob()`, `formData()`) builds the standard Response once and hands those to it. The
 * Anthropic SDK looks at `body` on every answer (without reading it), so `json()` still reads
 * the buffer while nobody has touched that stream, and then locks and cancels the stream, which
 * leaves it as reading it would. Reading the body twice fails as it does in undici (TypeError, "Body
 * is unusable").
 */
import type { NonSharedBuffer } from 'node:buffer';

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

export interface BufferedResponseInit {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly url: string;
}

export class BufferedResponse implements Response {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly url: string;
  readonly redirected = false;
  readonly type: ResponseType = 'basic';
  /** Null for a response without a body (204, HEAD): it reads as empty, any number of times. */
  readonly #payload: NonSharedBuffer | null;
  #used = false;
  #standard: Response | null = null;

  constructor(payload: NonSharedBuffer | null, init: BufferedResponseInit) {
    // As the standard constructor checks them: the fetch turns these into a network error.
    if (!(init.status >= 200 && init.status <= 599)) throw new RangeError(`response status ${init.status} is outside 200-599`);
    if (!REASON_PHRASE.test(init.statusText)) throw new TypeError(`invalid response status text ${JSON.stringify(init.statusText)}`);
    this.#payload = payload;
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers;
    this.url = init.url;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299;
  }

  get bodyUsed(): boolean {
    return this.#used || (this.#standard?.bodyUsed ?? false);
  }

  /** The standard stream, built on first use. */
  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return this.#asStandard().body;
  }

  async json(): Promise<unknown> {
    const standard = this.#readThroughStandard();
    if (standard) return standard.json();
    return JSON.parse(this.#consumeText());
  }

  async text(): Promise<string> {
    const standard = this.#readThroughStandard();
    if (standard) return standard.text();
    return this.#consumeText();
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const standard = this.#readThroughStandard();
    if (standard) return standard.arrayBuffer();
    const bytes = this.#consume();
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    return copy;
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async blob(): Promise<Blob> {
    if (this.#used) throw unusable();
    return this.#asStandard().blob();
  }

  async formData(): Promise<FormData> {
    if (this.#used) throw unusable();
    return this.#asStandard().formData();
  }

  clone(): Response {
    if (this.#used) throw unusable();
    if (this.#standard && (this.#standard.bodyUsed || this.#standard.body?.locked)) return this.#standard.clone();
    // The buffer is never written to, so the clone shares it.
    return new BufferedResponse(this.#payload, this);
  }

  /** The standard Response when its stream is in use (being read, or read): it answers then. */
  #readThroughStandard(): Response | null {
    const standard = this.#standard;
    if (!standard || this.#used || this.#payload === null) return null;
    if (standard.bodyUsed || standard.body?.locked) return standard;
    // Untouched: read the buffer here, and leave the stream locked and cancelled, as reading it would.
    standard.body?.getReader().cancel().catch(() => {});
    return null;
  }

  #consume(): NonSharedBuffer {
    if (this.#payload === null) return EMPTY;
    if (this.#used) throw unusable();
    this.#used = true;
    return this.#payload;
  }

  /** UTF-8 with a leading byte-order mark dropped, as the standard body mixin decodes. */
  #consumeText(): string {
    const bytes = this.#consume();
    const bom = bytes.length >= 3 && bytes[0] === UTF8_BOM[0] && bytes[1] === UTF8_BOM[1] && bytes[2] === UTF8_BOM[2];
    return bytes.toString('utf8', bom ? 3 : 0);
  }

  #asStandard(): Response {
    if (!this.#standard) {
      const standard = new Response(this.#payload, { status: this.status, statusText: this.statusText, headers: this.headers });
      Object.defineProperty(standard, 'url', { value: this.url });
      // A body already read here must read as used there too.
      if (this.#used) standard.body?.getReader().cancel().catch(() => {});
      this.#standard = standard;
    }
    return this.#standard;
  }
}

const EMPTY: NonSharedBuffer = Buffer.alloc(0);

/** What the standard accepts as a status text: tab, space, visible ASCII and bytes 0x80-0xFF. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

function unusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}
