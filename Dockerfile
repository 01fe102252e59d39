# AutoStack ChatOps image. Build: docker build --build-arg PG_MAJOR=17 -t autostack-chatops .
# Runs the bot (HTTP or Socket Mode, with workers); `npm run worker` as the command runs workers only.
# scripts/image-rehearsal.ts performs these steps in a clean directory where no Docker engine
# is available, and tests/ship/image.test.ts keeps the two in step.

# ---- build: compile TypeScript to dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY jobs ./jobs
RUN npm run build

# ---- deps: production dependencies only ----
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM node:24-bookworm-slim
# pg_dump must be at least the database server's major version: build with the server's major.
ARG PG_MAJOR=17
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && apt-get purge -y curl && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 autostack && useradd --system --uid 10001 --gid autostack --home-dir /app --shell /usr/sbin/nologin autostack
ENV NODE_ENV=production PORT=3000 PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY policies ./policies
COPY alerts ./alerts
# The charts' one font: images render the same on every machine.
COPY fonts ./fonts
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
