/**
 * The shape of the code, read with the TypeScript compiler API: no import loops among the
 * repository's own modules, the producer standing on nothing of the worker's, and no function in
 * worker/ or db/ longer than about 80 lines (data literals aside: SQL text, tables, schemas).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCE_DIRS = ['shared', 'worker', 'producer', 'db', 'test', 'dashboards', 'bench', 'scripts'];
const MAX_FUNCTION_LINES = 80;

function tsFilesUnder(dir: string): string[] {
  const full = path.join(ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(full);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const rel = path.join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path.join(ROOT, rel)).isDirectory()) return tsFilesUnder(rel);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

const rootFiles = readdirSync(ROOT).filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'));
const FILES = [...SOURCE_DIRS.flatMap(tsFilesUnder), ...rootFiles].sort();
const sources = new Map(FILES.map((f) => [f, ts.createSourceFile(f, readFileSync(path.join(ROOT, f), 'utf8'), ts.ScriptTarget.Latest, true)]));

/** The repository's own modules a file imports or re-exports (static and dynamic), as paths from the root. */
function importsOf(file: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    let spec: ts.Expression | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) spec = node.moduleSpecifier;
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) spec = node.arguments[0];
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) {
      const target = path.normalize(path.join(path.dirname(file), spec.text));
      if (sources.has(target)) found.push(target);
    }
    ts.forEachChild(node, visit);
  };
  visit(sources.get(file)!);
  return found;
}

const graph = new Map(FILES.map((f) => [f, importsOf(f)]));

/** Strongly connected components with more than one module (or a module importing itself): the loops. */
function importLoops(): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  const connect = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) loops.push(component.sort());
    }
  };
  for (const f of FILES) if (!indexOf.has(f)) connect(f);
  return loops;
}

function reachableFrom(starts: readonly string[]): Map<string, string> {
  // Each module reached, with the module that first imported it: to name the path in a failure.
  const via = new Map<string, string>(starts.map((s) => [s, '']));
  const queue = [...starts];
  for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
    for (const w of graph.get(v) ?? []) {
      if (!via.has(w)) {
        via.set(w, v);
        queue.push(w);
      }
    }
  }
  return via;
}

function chainTo(via: Map<string, string>, target: string): string {
  const chain = [target];
  for (let v = via.get(target); v; v = via.get(v)) chain.unshift(v);
  return chain.join(' → ');
}

const isFunctionLike = (n: ts.Node): n is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isConstructorDeclaration(n) || ts.isGetAccessor(n) || ts.isSetAccessor(n);

const isDataLiteral = (n: ts.Node) => ts.isObjectLiteralExpression(n) || ts.isArrayLiteralExpression(n) || ts.isTemplateExpression(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isStringLiteral(n);

function containsFunction(node: ts.Node): boolean {
  let found = false;
  const visit = (n: ts.Node) => {
    if (found) return;
    if (isFunctionLike(n)) found = true;
    else ts.forEachChild(n, visit);
  };
  ts.forEachChild(node, visit);
  return found;
}

/** Lines of a function's own code: nested functions are measured on their own, data literals not at all. */
function ownLines(fn: ts.FunctionLikeDeclaration, sf: ts.SourceFile): number {
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line;
  const lines = new Set<number>();
  for (let l = lineOf(fn.getStart(sf)); l <= lineOf(fn.getEnd()); l++) lines.add(l);
  const carve = (n: ts.Node) => {
    if (isFunctionLike(n) || (isDataLiteral(n) && !containsFunction(n))) {
      // The first and last lines stay: they hold the code around the literal or the nested function.
      for (let l = lineOf(n.getStart(sf)) + 1; l < lineOf(n.getEnd()); l++) lines.delete(l);
      if (isFunctionLike(n)) return;
    }
    ts.forEachChild(n, carve);
  };
  ts.forEachChild(fn, carve);
  return lines.size;
}

function longFunctions(dirs: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of FILES.filter((f) => dirs.some((d) => f.startsWith(`${d}/`)))) {
    const sf = sources.get(file)!;
    const visit = (n: ts.Node) => {
      if (isFunctionLike(n)) {
        const count = ownLines(n, sf);
        if (count > MAX_FUNCTION_LINES) {
          const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '(anonymous)';
          found.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1} ${name}: ${count} lines`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

describe('module structure', () => {
  it('reads the whole repository', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(FILES).toContain('worker/processor/policy.ts');
  });

  it('has no import loops among its own modules', () => {
    expect(importLoops()).toEqual([]);
  });

  it('finds a loop when there is one (the check can fail)', () => {
    graph.set('shared/jobs.ts', [...graph.get('shared/jobs.ts')!, 'producer/client.ts']);
    try {
      expect(importLoops().some((loop) => loop.includes('shared/jobs.ts') && loop.includes('producer/client.ts'))).toBe(true);
    } finally {
      graph.set('shared/jobs.ts', importsOf('shared/jobs.ts'));
    }
  });

  it('the producer stands on nothing of the worker, directly or through other modules', () => {
    const via = reachableFrom(FILES.filter((f) => f.startsWith('producer/')));
    const reached = [...via.keys()].filter((f) => f.startsWith('worker/'));
    expect(reached.map((f) => chainTo(via, f))).toEqual([]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines in worker/ or db/ (data literals aside)`, () => {
    expect(longFunctions(['worker', 'db'])).toEqual([]);
  });
});
