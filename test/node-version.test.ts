/**
 * One Node.js line everywhere: `.nvmrc`, the image, CI's pinned version and `engines` agree, and
 * the tests themselves run on a supported LTS release (CI installs it from the npm registry even
 * where the machine's own Node is an end-of-life one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/processes.ts';

/**
 * End of life of the LTS lines engines admits, from the Node.js Release Working Group's schedule
 * (github.com/nodejs/Release, README "Release schedule", read 2026-12-04). The releases CI can
 * install are checked against the line, not against `process.release.lts`: the npm registry's
 * newest 26.x (26.12.1) was built days before the line's LTS promotion and carries no codename.
 */
const LTS_END_OF_LIFE: Readonly<Record<number, string>> = { 24: '2028-04-30', 26: '2029-04-30' };

const read = (file: string): string => readFileSync(join(PROJECT_ROOT, file), 'utf8');
const line = read('.nvmrc').trim();

/** `engines.node` is a union of `^X.Y.Z` and `>=X.Y.Z` ranges: enough for this check, no semver parser. */
function satisfies(version: string, range: string): boolean {
  const v = version.replace(/^v/, '').split('.').map(Number);
  const cmp = (a: number[], b: number[]): number => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  return range.split('||').some((part) => {
    const m = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`engines range not understood: ${part}`);
    const min = [Number(m[2]), Number(m[3]), Number(m[4])];
    return cmp(v, min) >= 0 && (m[1] === '>=' || v[0] === min[0]);
  });
}

describe('Node.js line', () => {
  it('.nvmrc, the Dockerfile and .ci/run name the same LTS line', () => {
    expect(line).toMatch(/^\d+$/);
    // Every stage built on a Node image names the line in its FROM, as an image scanner reads it.
    const nodeImages = [...read('Dockerfile').matchAll(/^FROM\s+(node:\S+)/gm)].map((m) => m[1]);
    expect(nodeImages).toHaveLength(2);
    for (const image of nodeImages) expect(image).toMatch(new RegExp(`^node:${line}-[a-z]+-slim$`));
    expect(read('.ci/run')).toMatch(new RegExp(`^NODE_LTS=${line}\\.\\d+\\.\\d+$`, 'm'));
  });

  it('engines admits the pinned versions and refuses end-of-life lines', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const ci = read('.ci/run');
    for (const name of ['NODE_LTS', 'NODE_PREVIOUS_LTS']) {
      const pinned = new RegExp(`^${name}=(\\S+)$`, 'm').exec(ci)?.[1];
      expect(pinned, name).toBeDefined();
      expect(satisfies(pinned!, engines), `${name}=${pinned} in ${engines}`).toBe(true);
    }
    for (const eol of ['20.20.2', '22.23.3', '25.9.0']) expect(satisfies(eol, engines), eol).toBe(false);
  });

  it('the tests run on a supported LTS line that engines admits', () => {
    const major = Number(process.versions.node.split('.')[0]);
    const end = LTS_END_OF_LIFE[major];
    expect(end, `Node ${process.version} is not on an LTS line`).toBeDefined();
    expect(new Date(`${end}T00:00:00Z`).getTime(), `Node ${major} reached end of life on ${end}`).toBeGreaterThan(Date.now());
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(satisfies(process.version, engines), `${process.version} in ${engines}`).toBe(true);
  });
});
