# ovn-drift image: one program, three modes (operator Deployment, agent DaemonSet, CLI one-shots).
#   docker build -t ovn-drift:dev .
#   docker build --build-arg BASE=<a Node 20 Debian image> -t ovn-drift:dev .   (scripts/image-smoke.sh)
# Stage 1 compiles operator/ only (tsconfig.build.json: no tests, no source maps); stage 2 carries
# production dependencies, dist/operator, bin/ and the host tools the agent calls: iptables (legacy
# and nft backends), conntrack, and ip (iproute2) for --netns.
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Where outgoing TLS is re-signed (a proxy with its own CA), the build needs that CA to reach the
# npm registry: pass the PEM text in NODE_EXTRA_CA_PEM. Empty by default; only this stage sees it.
ARG NODE_EXTRA_CA_PEM=""
RUN if [ -n "$NODE_EXTRA_CA_PEM" ]; then printf '%s\n' "$NODE_EXTRA_CA_PEM" > /tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && npm ci --no-audit --no-fund \
 && rm -f /tmp/extra-ca.pem
COPY tsconfig.json tsconfig.build.json ./
COPY operator ./operator
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/.package-lock.json node_modules/.bin

FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables conntrack iproute2 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
WORKDIR /app
ENV NODE_ENV=production
# 4 MB semi-spaces: a 200,000-flow replica sync peaks at 1.80x the bytes received instead of 2.07x,
# and syncs faster (docs/replica-storage.md, "Figures").
ENV NODE_OPTIONS=--max-semi-space-size=4
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/operator ./dist/operator
COPY bin ./bin
# the CLI and the agent validate manifests against the CRD schemas, read from crds/ at run time
COPY crds ./crds
# The operator runs as an unprivileged user (the chart sets runAsUser 65532); the agent's pod
# spec runs it as root with only NET_ADMIN/NET_RAW. node is PID 1: the operator and the agent
# handle SIGTERM themselves and exit within a second.
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/ovn-drift.js"]
CMD ["--help"]
