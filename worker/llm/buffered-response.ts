/**
 * A fetch `Response` over a body already in memory, for the SDKs under node-http-fetch.ts.
 *
 * Why: a standard Response wraps even a buffered body in a web ReadableStream, and `json()` then
 * reads it back through that stream: at a thousand calls in flight that was about 6% of the
 * worker's CPU and much of its garbage. Here `json()`, `text()`, `arrayBuffer()` and `clone()`
 * work on the buffer directly. Anything that needs the stream or another body type (`body`,
 * `blob()`, `formData()`, `bytes()`) builds the standard Response once, and from then on every
 * body operation goes to it, so an SDK that streams or inspects the body sees standard
 * behaviour. Reading the body twice fails as it does in undici (TypeError, "Body is unusable").
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
  #payload: NonSharedBuffer | null;
  readonly #hasBody: boolean;
  #used = false;
  #standard: Response | null = null;

  constructor(payload: NonSharedBuffer | null, init: BufferedResponseInit) {
    // As the standard constructor: the fetch turns this into a network error.
    if (!(init.status >= 200 && init.status <= 599)) throw new RangeError(`response status ${init.status} is outside 200-599`);
    this.#payload = payload;
    this.#hasBody = payload !== null;
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

  /** The standard stream; building it hands every later body operation to a standard Response. */
  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return this.#asStandard().body;
  }

  async json(): Promise<unknown> {
    if (this.#standard) return this.#standard.json();
    return JSON.parse(this.#consumeText());
  }

  async text(): Promise<string> {
    if (this.#standard) return this.#standard.text();
    return this.#consumeText();
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#standard) return this.#standard.arrayBuffer();
    const bytes = this.#consume();
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    return copy;
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  blob(): Promise<Blob> {
    return this.#asStandard().blob();
  }

  formData(): Promise<FormData> {
    return this.#asStandard().formData();
  }

  clone(): Response {
    if (this.#standard) return this.#standard.clone();
    if (this.#used) throw unusable();
    // The buffer is never written to, so the clone shares it.
    return new BufferedResponse(this.#payload, this);
  }

  #consume(): NonSharedBuffer {
    if (!this.#hasBody) return EMPTY;
    if (this.#used) throw unusable();
    this.#used = true;
    const payload = this.#payload ?? EMPTY;
    this.#payload = null;
    return payload;
  }

  /** UTF-8 with a leading byte-order mark dropped, as the standard body mixin decodes. */
  #consumeText(): string {
    const bytes = this.#consume();
    const bom = bytes.length >= 3 && bytes[0] === UTF8_BOM[0] && bytes[1] === UTF8_BOM[1] && bytes[2] === UTF8_BOM[2];
    return bytes.toString('utf8', bom ? 3 : 0);
  }

  #asStandard(): Response {
    if (!this.#standard) {
      const standard = new Response(this.#hasBody ? (this.#payload ?? EMPTY) : null, { status: this.status, statusText: this.statusText, headers: this.headers });
      Object.defineProperty(standard, 'url', { value: this.url });
      // A body already read here must read as used there too: reading starts at once (and
      // marks the stream disturbed) even though its result is never awaited.
      if (this.#used) standard.arrayBuffer().catch(() => {});
      this.#payload = null;
      this.#used = false;
      this.#standard = standard;
    }
    return this.#standard;
  }
}

const EMPTY: NonSharedBuffer = Buffer.alloc(0);

function unusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}
