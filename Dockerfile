# custody-proxy image: build stage compiles TypeScript; the runtime stage has production
# dependencies and dist/ only, runs as the unprivileged `node` user, and execs the CLI directly
# (PID 1 is node, which handles SIGTERM itself for the drain).
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CUSTODY_PROXY_CONFIG=/etc/custody-proxy/custody-proxy.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 8080 9090
ENTRYPOINT ["node", "/app/bin/custody-proxy.js", "serve"]
