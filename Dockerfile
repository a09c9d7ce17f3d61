# syntax=docker/dockerfile:1
#
# One image for the worker, the producer and the one-shot migrate/init job; a second target adds
# the simulated model provider for the local demo. Build: `docker build --target app .`
#
# Node runs the TypeScript itself (type stripping, Node 22.18+/24): `node worker/main.ts`. No
# loader, no esbuild and no dist/ tree in the image; the command is the one CI runs natively
# (test/compose-e2e.test.ts). The rules it brings (erasable syntax only, `.ts` import paths) are
# checked by tsc (tsconfig: erasableSyntaxOnly, allowImportingTsExtensions). docs/operations.md.

# ---- production dependencies only -------------------------------------------------------------
FROM node:26-trixie-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# postinstall runs patch-package, which applies patches/ (see patches/README.md): production
# needs the postgres.js fix too.
COPY patches ./patches/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# ---- runtime: worker, producer, migrate --------------------------------------------------------
FROM node:26-trixie-slim AS app
# tini as PID 1: it forwards SIGTERM to node and reaps zombies; node then runs the graceful stop
# (stop taking jobs, drain within SHUTDOWN_GRACE_MS, close Redis and Postgres).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# V8's heap cap, --max-old-space-size in MB, for every process of this image (the worker above
# all; the producer and migrate stay far below it, so for them it changes nothing). Without a cap
# V8 lets garbage pile up before it collects: a worker with 1,000 jobs in flight keeps about 70 MB
# live yet grew to ~450 MB resident; with 256 it peaks under 300 MB at the same throughput
# (README.md, Deployment). This line is the one place the number is written: compose and the
# Kubernetes manifests inherit it (test/compose-config.test.ts and test/k8s-manifests.test.ts
# check that nothing overrides it, and that the worker's memory limit leaves room above it), and
# the benchmark starts its workers with it. Operators override it by setting NODE_OPTIONS on the
# container; the value replaces this one as a whole, so keep --enable-source-maps in it.
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-old-space-size=256"
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY shared ./shared
COPY db ./db
COPY worker ./worker
COPY producer ./producer
# Files stay owned by root and read-only for the process.
USER node
# 3000: producer HTTP API and /metrics; 9464: worker /metrics and /healthz.
EXPOSE 3000 9464
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "worker/main.ts"]

# ---- the simulated model provider (demo only: `docker compose` uses it when no keys are set) ---
FROM app AS sim
USER root
COPY test/simulator ./test/simulator
USER node
EXPOSE 8787
CMD ["node", "test/simulator/main.ts"]
