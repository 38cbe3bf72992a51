# ovn-drift image: one program, three modes (operator Deployment, agent DaemonSet, CLI one-shots).
# Build: docker build -t ovn-drift:dev .
# Stage 1 compiles TypeScript; stage 2 carries only production dependencies, dist/, bin/ and the
# host tools the agent calls (iptables with both legacy and nft backends, conntrack).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY operator ./operator
COPY test ./test
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables conntrack \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY crds ./crds
# The operator runs as an unprivileged user (the chart sets runAsUser 65532); the agent's pod
# spec runs it as root with only NET_ADMIN/NET_RAW.
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/ovn-drift.js"]
CMD ["--help"]
