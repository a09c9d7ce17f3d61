/**
 * The latest workflows of two models for similar goals, side by side, so an operator can compare
 * what each model writes (the seed: "compare the quality of the workflows the models wrote").
 *
 * Similar goals: the same agent (an agent serves one purpose, so its requests ask for the same
 * kind of workflow), or goals that share at least half their words (Jaccard similarity of the
 * sets of words of three or more letters, stop words left out, ≥ 0.5). The newest workflows of
 * model A each get model B's most similar one (the newest among equals), each used once.
 */
import type { Database } from '../db/client.ts';
import { latestWorkflowsOf, type WrittenWorkflow } from '../db/latest-workflows.ts';
import { parseUsd, usdToNumber } from '../shared/money.ts';

/** Goals sharing at least this share of their words are similar. */
export const SIMILARITY_THRESHOLD = 0.5;
/** How many of each model's latest workflows are considered. */
export const CANDIDATES_PER_MODEL = 200;

const STOP_WORDS = new Set(
  'the and for with from into onto that this then than when what which who whom whose where while each every all any are was were has have had not but our your their its his her them they you can will would should could about after before over under out off per via also just only more most some such very a an to of in on at by or as is it be do if so up we my me'.split(' '),
);

/** The words a goal is compared on: lower case, letters and digits, three or more, no stop words. */
export function goalWords(goal: string): Set<string> {
  return new Set(
    goal
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length >= 3 && !STOP_WORDS.has(w)),
  );
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

export interface SideItem {
  readonly id: string;
  readonly userId: string | null;
  readonly agentId: string | null;
  readonly goal: string;
  readonly steps: number | null;
  readonly costUsd: number;
  readonly fallbackReason: string | null;
  readonly finishedAt: string | null;
  readonly workflow: unknown;
}

export interface SidePair {
  /** 1 for the same agent, else the goals' word similarity (0.5 to 1). */
  readonly similarity: number;
  readonly basis: 'same_agent' | 'shared_words';
  readonly sharedWords: readonly string[];
  readonly a: SideItem;
  readonly b: SideItem;
}

export interface SideBySideView {
  readonly modelA: string;
  readonly modelB: string;
  readonly windowDays: number;
  readonly similarity: string;
  readonly candidates: { readonly a: number; readonly b: number };
  readonly pairs: readonly SidePair[];
}

const goalOf = (w: WrittenWorkflow): string => {
  const g = (w.request as { userGoal?: unknown } | null)?.userGoal;
  return typeof g === 'string' ? g : '';
};

function item(w: WrittenWorkflow): SideItem {
  return {
    id: w.jobId,
    userId: w.userId,
    agentId: w.agentId,
    goal: goalOf(w),
    steps: w.stepsGenerated,
    costUsd: usdToNumber(parseUsd(w.costUsd)),
    fallbackReason: w.fallbackReason,
    finishedAt: w.finishedAt?.toISOString() ?? null,
    workflow: w.workflow,
  };
}

/** Pairs each of A's workflows, newest first, with B's most similar unused one. */
export function pairWorkflows(as: readonly WrittenWorkflow[], bs: readonly WrittenWorkflow[], limit: number): SidePair[] {
  const bWords = bs.map((b) => goalWords(goalOf(b)));
  const used = new Set<number>();
  const pairs: SidePair[] = [];
  for (const a of as) {
    if (pairs.length >= limit) break;
    const aWords = goalWords(goalOf(a));
    let best: { index: number; score: number; basis: SidePair['basis'] } | undefined;
    bs.forEach((b, index) => {
      if (used.has(index)) return;
      const sameAgent = a.agentId !== null && a.agentId === b.agentId;
      const score = sameAgent ? 1 : jaccard(aWords, bWords[index]!);
      // bs is newest first: on a tie the newer one stays.
      if (score >= SIMILARITY_THRESHOLD && (!best || score > best.score)) best = { index, score, basis: sameAgent ? 'same_agent' : 'shared_words' };
    });
    if (!best) continue;
    used.add(best.index);
    const b = bs[best.index]!;
    pairs.push({
      similarity: Math.round(best.score * 100) / 100,
      basis: best.basis,
      sharedWords: [...aWords].filter((w) => bWords[best!.index]!.has(w)).sort(),
      a: item(a),
      b: item(b),
    });
  }
  return pairs;
}

export async function sideBySideView(db: Database, modelA: string, modelB: string, days: number, limit: number): Promise<SideBySideView> {
  const [as, bs] = await Promise.all([latestWorkflowsOf(db, modelA, days, CANDIDATES_PER_MODEL), latestWorkflowsOf(db, modelB, days, CANDIDATES_PER_MODEL)]);
  return {
    modelA,
    modelB,
    windowDays: days,
    similarity: `the same agent, or goals sharing at least ${SIMILARITY_THRESHOLD * 100}% of their words (Jaccard similarity of words of 3+ letters, stop words left out)`,
    candidates: { a: as.length, b: bs.length },
    pairs: pairWorkflows(as, bs, limit),
  };
}
