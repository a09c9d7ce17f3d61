/**
 * deploy/k8s passes a schema check: every document is validated against the Kubernetes OpenAPI
 * schemas (the `kubernetes-models` package: Ajv validators generated from the upstream OpenAPI
 * spec) and the KEDA ScaledObject against KEDA's CRD schema (`@kubernetes-models/keda`, generated
 * from the CRD's openAPIV3Schema). Then the things a schema cannot know: probes, grace periods
 * against SHUTDOWN_GRACE_MS, commands equal to compose's, and a KEDA query that parses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { heapCapMb, imageEnvironment } from './helpers/dockerfile.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { selectorsNotUnderMax, syntaxErrors } from './helpers/promql.ts';

const DIR = join(PROJECT_ROOT, 'deploy/k8s');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: any;
  data?: Record<string, string>;
}

/** `apiVersion/kind` → a validator that throws with Ajv's messages. */
const VALIDATORS: Record<string, (doc: unknown) => void> = {
  'apps/v1/Deployment': (d) => new Deployment(d as never).validate(),
  'batch/v1/Job': (d) => new Job(d as never).validate(),
  'v1/ConfigMap': (d) => new ConfigMap(d as never).validate(),
  'v1/Service': (d) => new Service(d as never).validate(),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d as never).validate(),
  'keda.sh/v1alpha1/ScaledObject': (d) => new ScaledObject(d as never).validate(),
};

function manifests(): Array<{ file: string; doc: Manifest }> {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .flatMap((file) =>
      YAML.parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
        .map((d) => d.toJS() as Manifest)
        .filter(Boolean)
        .map((doc) => ({ file, doc })),
    );
}

const byKind = (kind: string, name: string) => manifests().find((m) => m.doc.kind === kind && m.doc.metadata.name === name)!.doc;

/** A Kubernetes memory quantity (`512Mi`, `1Gi`, `500M`, bytes) in MiB. */
function mib(quantity: string | number): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?)?$/.exec(String(quantity));
  if (!m) throw new Error(`cannot read memory quantity ${quantity}`);
  const unit = m[2] ?? '';
  const factor: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return (Number(m[1]) * factor[unit]!) / 2 ** 20;
}

describe('kubernetes manifests', () => {
  it('every document validates against its schema', () => {
    const docs = manifests();
    expect(docs.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of docs) {
      const validate = VALIDATORS[`${doc.apiVersion}/${doc.kind}`];
      expect(validate, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => validate!(doc), `${file} ${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
  });

  it('the schema check catches a broken manifest (it is not a no-op)', () => {
    const worker = structuredClone(byKind('Deployment', 'workflow-orchestrator-worker'));
    worker.spec.template.spec.containers[0].ports[0].containerPort = 'nine-four-six-four';
    expect(() => VALIDATORS['apps/v1/Deployment']!(worker)).toThrow(/containerPort/);
    const so = structuredClone(byKind('ScaledObject', 'workflow-orchestrator-worker'));
    delete so.spec.scaleTargetRef;
    so.spec.minReplicaCount = 'two';
    expect(() => VALIDATORS['keda.sh/v1alpha1/ScaledObject']!(so)).toThrow(/scaleTargetRef|minReplicaCount/);
  });

  it('kustomization lists every manifest file', () => {
    const k = YAML.parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const files = [...new Set(manifests().map((m) => m.file))];
    expect([...k.resources].sort()).toEqual(files.sort());
  });

  it('producer: /healthz liveness, /readyz readiness, grace period above SHUTDOWN_GRACE_MS', () => {
    const config = byKind('ConfigMap', 'workflow-orchestrator').data!;
    const d = byKind('Deployment', 'workflow-orchestrator-producer').spec;
    const c = d.template.spec.containers[0];
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.ports[0]).toMatchObject({ name: 'http', containerPort: Number(config.PORT) });
    const graceMs = Number(config[c.env.find((e: any) => e.name === 'SHUTDOWN_GRACE_MS').valueFrom.configMapKeyRef.key]);
    expect(d.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(graceMs + 5_000);
    expect(c.args).toEqual(['node', 'producer/main.ts']);
  });

  it('worker: /healthz on the metrics port, grace period above SHUTDOWN_GRACE_MS, non-root, read-only root', () => {
    const config = byKind('ConfigMap', 'workflow-orchestrator').data!;
    const d = byKind('Deployment', 'workflow-orchestrator-worker').spec;
    const pod = d.template.spec;
    const c = pod.containers[0];
    expect(c.ports[0]).toMatchObject({ name: 'metrics', containerPort: Number(config.METRICS_PORT) });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    const graceMs = Number(config[c.env.find((e: any) => e.name === 'SHUTDOWN_GRACE_MS').valueFrom.configMapKeyRef.key]);
    expect(graceMs).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(graceMs + 5_000);
    expect(c.args).toEqual(['node', 'worker/main.ts']);
    for (const p of [pod, byKind('Deployment', 'workflow-orchestrator-producer').spec.template.spec]) {
      expect(p.securityContext.runAsNonRoot).toBe(true);
      expect(p.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      // A writable /tmp for whatever a library writes there; the root filesystem stays read-only.
      expect(p.containers[0].volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(p.containers[0].envFrom).toEqual([{ configMapRef: { name: 'workflow-orchestrator' } }, { secretRef: { name: 'workflow-orchestrator' } }]);
    }
    expect(config.QUEUE_PREFIX).toBe('{wf}');
  });

  it('worker: runs with the image\'s V8 heap cap (nothing overrides NODE_OPTIONS), memory request and limit sized around it', () => {
    // The Dockerfile's ENV is the one place the cap is written; the pods run that image.
    const cap = heapCapMb(imageEnvironment('app').NODE_OPTIONS)!;
    expect(cap).toBeGreaterThan(0);
    expect(byKind('ConfigMap', 'workflow-orchestrator').data!.NODE_OPTIONS).toBeUndefined();
    for (const { file, doc } of manifests()) {
      const pod = doc.kind === 'Deployment' || doc.kind === 'Job' ? doc.spec.template.spec : undefined;
      for (const c of pod?.containers ?? []) {
        expect((c.env ?? []).map((e: { name: string }) => e.name), `${file}: ${c.name} must inherit NODE_OPTIONS from the image`).not.toContain('NODE_OPTIONS');
      }
    }
    const { requests, limits } = byKind('Deployment', 'workflow-orchestrator-worker').spec.template.spec.containers[0].resources;
    // Under load V8 lets the heap grow towards the cap before it collects: the request covers it.
    expect(mib(requests.memory)).toBeGreaterThanOrEqual(cap);
    // Room above the cap for what is not old-space heap (young generation, code,
    // sockets): a leak should end in V8's "heap out of memory", not the kernel's OOM kill.
    expect(mib(limits.memory)).toBeGreaterThanOrEqual(cap + 192);
    expect(mib(limits.memory)).toBeGreaterThanOrEqual(mib(requests.memory));
  });

  it('KEDA scales the worker Deployment on queue depth from Prometheus', () => {
    const so = byKind('ScaledObject', 'workflow-orchestrator-worker').spec;
    expect(so.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'workflow-orchestrator-worker' });
    expect(so.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(so.maxReplicaCount).toBeGreaterThan(so.minReplicaCount);
    // The HPA owns the count: a fixed one in the Deployment would fight it on every apply.
    expect(byKind('Deployment', 'workflow-orchestrator-worker').spec.replicas).toBeUndefined();
    const trigger = so.triggers[0];
    expect(trigger.type).toBe('prometheus');
    expect(trigger.metadata.serverAddress).toMatch(/^https?:\/\//);
    expect(syntaxErrors(trigger.metadata.query)).toEqual([]);
    expect(trigger.metadata.query).toContain('orchestrator_queue_jobs');
    expect(selectorsNotUnderMax(trigger.metadata.query, 'orchestrator_queue_jobs')).toEqual([]);
    // One replica should hold WORKER_CONCURRENCY jobs.
    expect(Number(trigger.metadata.threshold)).toBe(Number(byKind('ConfigMap', 'workflow-orchestrator').data!.WORKER_CONCURRENCY));
  });
});
