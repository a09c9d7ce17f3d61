/**
 * The Response the vendor HTTP client resolves with (worker/llm/buffered-response.ts) behaves as
 * the standard one for what the SDKs do with it: each sequence of reads below is run on both, over
 * the same bytes, and must give the same values, or the same kind of error at the same step.
 */
import { describe, expect, it } from 'vitest';
import { BufferedResponse } from '../worker/llm/buffered-response.ts';

type Step = (r: Response) => unknown;

const steps = {
  json: (r: Response) => r.json(),
  text: (r: Response) => r.text(),
  arrayBuffer: async (r: Response) => Array.from(new Uint8Array(await r.arrayBuffer())),
  bytes: async (r: Response) => Array.from(await r.bytes()),
  blob: async (r: Response) => (await r.blob()).text(),
  bodyUsed: (r: Response) => r.bodyUsed,
  bodyIsStream: (r: Response) => (r.body === null ? null : r.body instanceof ReadableStream),
  readStream: async (r: Response) => {
    if (r.body === null) return null;
    const chunks: Uint8Array[] = [];
    for await (const chunk of r.body) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  },
  cloneThenJson: (r: Response) => r.clone().json(),
  cloneThenText: (r: Response) => r.clone().text(),
  head: (r: Response) => ({ status: r.status, statusText: r.statusText, ok: r.ok, type: r.headers.get('content-type'), id: r.headers.get('x-request-id') }),
} satisfies Record<string, Step>;

type StepName = keyof typeof steps;

interface Outcome {
  readonly value?: unknown;
  readonly error?: string;
}

async function run(response: Response, sequence: readonly StepName[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const name of sequence) {
    try {
      out.push({ value: await steps[name](response) });
    } catch (err) {
      out.push({ error: (err as Error).constructor.name });
    }
  }
  return out;
}

function both(body: Uint8Array | null, status = 200): [Response, Response] {
  const headers = () => new Headers({ 'content-type': 'application/json', 'x-request-id': 'req_1' });
  const payload = body === null ? null : Buffer.from(body);
  return [new BufferedResponse(payload, { status, statusText: 'OK', headers: headers(), url: 'http://vendor.test/v1/x' }), new Response(body === null ? null : Buffer.from(body), { status, statusText: 'OK', headers: headers() })];
}

const JSON_BODY = new TextEncoder().encode('{"id":"chatcmpl-1","choices":[{"message":{"content":"{\\"name\\":\\"é ✓\\"}"}}]}');
const WITH_BOM = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"a":1}')]);
const NOT_JSON = new TextEncoder().encode('<html>bad gateway</html>');

const SEQUENCES: readonly (readonly StepName[])[] = [
  ['head', 'bodyUsed', 'json', 'bodyUsed'],
  ['text', 'json'],
  ['json', 'text', 'arrayBuffer'],
  ['arrayBuffer', 'bodyUsed', 'bytes'],
  ['bytes'],
  ['blob', 'bodyUsed'],
  ['cloneThenJson', 'bodyUsed', 'json'],
  ['cloneThenText', 'cloneThenJson', 'text', 'cloneThenText'],
  ['bodyIsStream', 'bodyUsed', 'json', 'bodyUsed'],
  ['readStream', 'bodyUsed', 'text'],
  ['json', 'bodyIsStream', 'cloneThenJson'],
  // What the Anthropic SDK does: look at the stream, then read the body.
  ['bodyIsStream', 'json', 'bodyUsed', 'readStream', 'cloneThenJson'],
  ['bodyIsStream', 'cloneThenJson', 'text', 'readStream'],
  ['json', 'readStream', 'bodyUsed'],
];

describe('BufferedResponse against the standard Response', () => {
  it.each(SEQUENCES.map((s) => [s.join(' → '), s] as const))('%s', async (_label, sequence) => {
    for (const body of [JSON_BODY, WITH_BOM, NOT_JSON, new Uint8Array()]) {
      const [buffered, standard] = both(body);
      expect(await run(buffered, sequence)).toEqual(await run(standard, sequence));
    }
  });

  it('a bodiless answer (204) reads as the standard one', async () => {
    for (const sequence of SEQUENCES) {
      const [buffered, standard] = both(null, 204);
      expect(await run(buffered, sequence)).toEqual(await run(standard, sequence));
    }
  });

  it('error statuses keep ok false and their body; a status the standard refuses is refused', async () => {
    const [buffered, standard] = both(NOT_JSON, 503);
    expect(await run(buffered, ['head', 'text'])).toEqual(await run(standard, ['head', 'text']));
    expect(() => new BufferedResponse(null, { status: 99, statusText: '', headers: new Headers(), url: '' })).toThrow(RangeError);
    expect(() => new Response(null, { status: 99 })).toThrow(RangeError);
  });

  it('keeps the request URL the SDKs log', () => {
    const [buffered] = both(JSON_BODY);
    expect(buffered.url).toBe('http://vendor.test/v1/x');
    expect(buffered.redirected).toBe(false);
  });
});
