# custody-proxy image (SPEC §12). Three stages: `build` compiles TypeScript, `deps` installs the
# production dependencies, `runtime` takes only their results. The runtime has no package manager,
# runs as uid 1000, and its files belong to root: a compromised process cannot rewrite its own code.
# test/packaging/runtime-tree.test.ts builds the runtime's /app from this file's COPY lines and runs it.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# --ignore-scripts: no production dependency has an install script, and the package's own `prepare`
# (tsc) belongs to the build stage.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# npm, npx, corepack and yarn are build tools: removed, they cannot fetch or run code in a container,
# and scanners stop reporting their dependencies. (The base layer keeps the bytes; the container's
# filesystem no longer has them.) The loop fails the build if a new base image puts one elsewhere.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-v* \
    && for tool in npm npx corepack yarn yarnpkg; do if command -v "$tool"; then exit 1; fi; done

# OCI labels. Pass the real values when building (see README, Docker); VERSION's default is kept
# equal to package.json's version by test/packaging/dockerfile.test.ts. CREATED and SOURCE stay
# empty unless given rather than carry a made-up date or address.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=
ARG SOURCE=
LABEL org.opencontainers.image.title="custody-proxy" \
      org.opencontainers.image.description="Authenticating, tenant-stamping, idempotent reverse proxy sidecar for custody services" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="UNLICENSED"

ENV NODE_ENV=production \
    CUSTODY_PROXY_CONFIG=/etc/custody-proxy/custody-proxy.yaml
WORKDIR /app
# COPY without --chown: root-owned, not writable by uid 1000. package.json is read at run time
# (--version, custody_proxy_build_info); the lock file records what node_modules holds, for scanners.
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin

# uid:gid of the base image's `node` user, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 9090
# PID 1 is node itself (exec form, no shell): SIGTERM reaches the proxy, which drains (SPEC §12) and
# exits 0. node does not reap orphaned zombies as an init would, which is harmless: the proxy spawns
# no child processes, so no tini/dumb-init is needed.
STOPSIGNAL SIGTERM
# Kubernetes ignores HEALTHCHECK (the chart probes /healthz and /readyz), and the admin address is
# configurable, so a check baked in here could probe the wrong port: none, deliberately.
HEALTHCHECK NONE
# The arguments replace CMD: `docker run IMAGE --version`, `docker run IMAGE check --config FILE`;
# the Helm chart passes ["serve", "--config", FILE].
ENTRYPOINT ["node", "/app/bin/custody-proxy.js"]
CMD ["serve"]
