// Every relative link in the README and docs/ resolves: the file exists, and an #anchor names a
// heading of that file as GitHub renders it (github-slugger, duplicates numbered in order).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import MarkdownIt, { type Token } from 'markdown-it';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const md = new MarkdownIt({ html: true });

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), join(root, 'test/simulator/README.md'), ...docs];
}

function walk(tokens: readonly Token[], visit: (token: Token) => void): void {
  for (const token of tokens) {
    visit(token);
    if (token.children) walk(token.children, visit);
  }
}

/** The anchors GitHub gives a file's headings, in document order. */
function anchorsOf(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const tokens = md.parse(readFileSync(file, 'utf8'), {});
  tokens.forEach((token, index) => {
    if (token.type !== 'heading_open') return;
    const inline = tokens[index + 1];
    const text = (inline?.children ?? [])
      .filter((child) => child.type === 'text' || child.type === 'code_inline')
      .map((child) => child.content)
      .join('');
    anchors.add(slugger.slug(text));
  });
  return anchors;
}

function linksOf(file: string): string[] {
  const links: string[] = [];
  walk(md.parse(readFileSync(file, 'utf8'), {}), (token) => {
    if (token.type === 'link_open') links.push(String(token.attrGet('href') ?? ''));
    if (token.type === 'image') links.push(String(token.attrGet('src') ?? ''));
  });
  return links;
}

function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  for (const href of linksOf(file)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // http:, https:, mailto: are not ours to check
    const [path = '', anchor] = href.split('#', 2);
    const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!existsSync(target)) {
      broken.push(`${href} (no file ${relative(root, target)})`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(target).isDirectory() || !target.endsWith('.md')) {
      broken.push(`${href} (an anchor into a file that is not Markdown)`);
    } else if (!anchorsOf(target).has(decodeURIComponent(anchor))) {
      broken.push(`${href} (no heading #${anchor} in ${relative(root, target)})`);
    }
  }
  return broken;
}

describe('documentation links', () => {
  for (const file of markdownFiles()) {
    it(`every relative link in ${relative(root, file)} resolves`, () => {
      expect(linksOf(file).length).toBeGreaterThan(0);
      expect(brokenLinks(file)).toEqual([]);
    });
  }

  it('headings get the anchors GitHub gives them', () => {
    const anchors = anchorsOf(join(root, 'README.md'));
    expect(anchors.has('configuration')).toBe(true);
    expect(anchors.has('no-such-heading')).toBe(false);
  });

  it('the README stays a README: at most 350 lines', () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n').length;
    expect(lines).toBeLessThanOrEqual(350);
  });
});
