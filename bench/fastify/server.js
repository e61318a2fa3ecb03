// The server benchmark's third contender: the token endpoint as a Node.js developer would
// deploy it with a framework, fastify 5 on `cluster` (one worker per core unless WORKERS says
// otherwise), doing the jobs our server does on the same request:
//   - a pino JSON access log at info, one line per request (fastify's own two lines per
//     request are turned off and replaced by one in onResponse, as our server writes one);
//   - @fastify/rate-limit per client IP (onRequest) and per API key (after auth), both set
//     out of reach so they count every request and never refuse (like bench/servers.py does
//     for ours), in the plugin's in-memory store, or with REDIS_URL in its Redis store through
//     ioredis (one client per worker, the options the plugin's README recommends: a 500 ms
//     connect timeout, one retry per command), as ours counts in Redis with `redis_url`;
//   - prom-client: a request counter and a latency histogram, served on /metrics;
//   - auth: the same API-key check as bench/node_server.js (SHA-256 of the Bearer key,
//     timingSafeEqual), or with AUTH=jwt a JWT verified by @fastify/jwt (fast-jwt) with the
//     checks ours makes: the one configured algorithm (JWT_ALGORITHM, HS256 or RS256), the
//     signature with a shared secret, a PEM public key or a JWKS key picked by kid (get-jwks,
//     fastify's JWKS helper), issuer, audience, exp and nbf with 30 s of leeway (fast-jwt's
//     clockTolerance is in milliseconds), exp/iss/aud/sub required, sub a string, and an iat
//     in the future refused (fast-jwt accepts one unless told); a userID other than its
//     "sub" is 403, as in ours. fast-jwt's verified-token cache stays off, as ours has none;
//   - JSON-schema validation of userID (1..64 characters, then 64 UTF-8 bytes) and
//     expired_ts (integer 1..86400, default 3600);
//   - a Token04 GCM token made with Node's crypto from the format facts in
//     tests/vectors/README.md (the same function as node_server.js).
// Written for this benchmark. Dependencies pinned in package.json, installed by
// bench/servers.py (or scripts/bootstrap) with `npm install`, never vendored.
//
// Environment: ZEGO_APP_ID, ZEGO_SERVER_SECRET (32 characters), API_KEY_SHA256 (hex) or with
// AUTH=jwt JWT_ALGORITHM, JWT_ISSUER, JWT_AUDIENCE and one of JWT_SECRET (HS256),
// JWT_PUBLIC_KEY_FILE or JWKS_URL (RS256); RATE_LIMIT (default 1e9 per minute); REDIS_URL (the
// rate limits' store; default: in memory); HOST, PORT
// (0: any free port), WORKERS. Prints "listening http://HOST:PORT" once every worker is accepting.
"use strict";

const cluster = require("node:cluster");
const crypto = require("node:crypto");
const os = require("node:os");
const token04 = require("../token04.js");
const { runPrimary } = require("../cluster.js");

const HOST = process.env.HOST || "127.0.0.1";
const PORT = Number(process.env.PORT || 0);
const WORKERS = Number(process.env.WORKERS || os.availableParallelism());
const AUTH = process.env.AUTH || "api_key";
const RATE_LIMIT = Number(process.env.RATE_LIMIT || 1e9);
const REDIS_URL = process.env.REDIS_URL || "";
const MAX_TTL = 86400;

function fail(message) {
  console.error(`fastify_server: ${message}`);
  process.exit(2);
}

const appId = Number(process.env.ZEGO_APP_ID);
const secret = process.env.ZEGO_SERVER_SECRET || "";
const keyHashHex = process.env.API_KEY_SHA256 || "";
const jwtSecret = process.env.JWT_SECRET || "";
const jwtAlgorithm = process.env.JWT_ALGORITHM || "HS256";
const jwtPublicKeyFile = process.env.JWT_PUBLIC_KEY_FILE || "";
const jwksUrl = process.env.JWKS_URL || "";
const LEEWAY_MS = 30000;
if (!Number.isInteger(appId) || appId <= 0) fail("set ZEGO_APP_ID to a positive integer");
if (secret.length !== 32) fail("set ZEGO_SERVER_SECRET to the 32-character ServerSecret");
if (AUTH === "api_key" && !/^[0-9a-f]{64}$/.test(keyHashHex)) {
  fail("set API_KEY_SHA256 to a SHA-256 hex digest");
}
if (AUTH === "jwt" && jwtAlgorithm === "HS256" && jwtSecret.length < 32) {
  fail("set JWT_SECRET (at least 32 characters)");
}
if (AUTH === "jwt" && jwtAlgorithm === "RS256" && !jwtPublicKeyFile && !jwksUrl) {
  fail("set JWT_PUBLIC_KEY_FILE or JWKS_URL for RS256");
}
if (AUTH !== "api_key" && AUTH !== "jwt") fail('set AUTH to "api_key" or "jwt"');

if (cluster.isPrimary) {
  runPrimary("fastify_server", WORKERS, HOST);
} else {
  startWorker().catch((error) => fail(error.stack || String(error)));
}

// The verification key: the shared secret, the PEM public key, or for a JWKS a function that
// picks the key by the token's kid (get-jwks fetches and caches the JWKS, as ours does).
function jwtKey() {
  if (jwtAlgorithm === "HS256") return jwtSecret;
  if (jwtPublicKeyFile) {
    return { public: require("node:fs").readFileSync(jwtPublicKeyFile, "utf8") };
  }
  const url = new URL(jwksUrl);
  const getJwks = require("get-jwks")({ jwksPath: url.pathname, providerDiscovery: false });
  return (request, token) =>
    getJwks.getPublicKey({ domain: url.origin, kid: token.header.kid, alg: token.header.alg });
}

function makeToken(key, userId, ttl) {
  return token04.makeToken(key, appId, userId, ttl);
}

async function startWorker() {
  const Fastify = require("fastify");
  const client = require("prom-client");

  const key = Buffer.from(secret, "utf8");
  const keyHash = Buffer.from(keyHashHex, "hex");
  const app = Fastify({
    logger: { level: "info" },
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    keepAliveTimeout: 65000,
  });

  const requests = new client.Counter({
    name: "token_requests_total",
    help: "Requests answered, by route and status",
    labelNames: ["route", "status"],
  });
  const latency = new client.Histogram({
    name: "token_request_duration_seconds",
    help: "Time to answer a request",
    labelNames: ["route"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  });

  function error(reply, status, code, message) {
    return reply.code(status).header("cache-control", "no-store").send({ error: { code, message } });
  }

  app.setErrorHandler((err, request, reply) => {
    if (err.validation) {
      const field = String(err.validation[0]?.instancePath || err.message);
      const code = field.includes("expired_ts") ? "invalid_ttl" : "invalid_user_id";
      return error(reply, code === "invalid_ttl" ? 422 : 400, code, err.message);
    }
    if (err.statusCode === 429) return error(reply, 429, "rate_limited", "slow down");
    if (err.statusCode === 401) return error(reply, 401, "unauthorized", "send a valid Bearer credential");
    request.log.error(err);
    return error(reply, 500, "internal", "internal error");
  });

  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url || "unknown";
    const seconds = reply.elapsedTime / 1000;
    requests.inc({ route, status: reply.statusCode });
    latency.observe({ route }, seconds);
    request.log.info(
      { method: request.method, path: route, status: reply.statusCode, ms: reply.elapsedTime },
      "request",
    );
    done();
  });

  let redis = null;
  if (REDIS_URL) {
    const Redis = require("ioredis");
    redis = new Redis(REDIS_URL, { connectTimeout: 500, maxRetriesPerRequest: 1 });
  }
  await app.register(require("@fastify/rate-limit"), {
    global: false,
    max: RATE_LIMIT,
    timeWindow: 60000,
    redis,
  });
  const perIp = app.rateLimit({ max: RATE_LIMIT, timeWindow: 60000 });
  const perIdentity = app.createRateLimit({
    max: RATE_LIMIT,
    timeWindow: 60000,
    keyGenerator: (request) => `identity:${request.identity}`,
  });

  let authenticate;
  if (AUTH === "jwt") {
    await app.register(require("@fastify/jwt"), {
      secret: jwtKey(),
      decode: { complete: true },
      verify: {
        algorithms: [jwtAlgorithm],
        allowedIss: process.env.JWT_ISSUER,
        allowedAud: process.env.JWT_AUDIENCE,
        clockTolerance: LEEWAY_MS,
        requiredClaims: ["exp", "iss", "aud", "sub"],
      },
    });
    authenticate = async (request, reply) => {
      try {
        const claims = await request.jwtVerify();
        if (typeof claims.iat === "number" && claims.iat * 1000 > Date.now() + LEEWAY_MS) {
          throw new Error("iat in the future");
        }
        if (typeof claims.sub !== "string" || claims.sub === "") throw new Error("bad sub");
        request.identity = claims.sub;
      } catch {
        return error(reply, 401, "unauthorized", "send Authorization: Bearer <JWT>");
      }
    };
  } else {
    authenticate = async (request, reply) => {
      const header = request.headers.authorization;
      if (typeof header === "string" && header.startsWith("Bearer ")) {
        const digest = crypto.createHash("sha256").update(header.slice(7)).digest();
        if (crypto.timingSafeEqual(digest, keyHash)) {
          request.identity = "bench";
          return;
        }
      }
      return error(reply, 401, "unauthorized", "send Authorization: Bearer <API key>");
    };
  }

  app.decorateRequest("identity", "");
  app.get(
    "/api/token",
    {
      schema: {
        querystring: {
          type: "object",
          properties: {
            userID: { type: "string", minLength: 1, maxLength: 64 },
            expired_ts: { type: "integer", minimum: 1, maximum: MAX_TTL, default: 3600 },
          },
          required: ["userID"],
        },
      },
      onRequest: perIp,
      preHandler: [
        authenticate,
        async (request, reply) => {
          const limit = await perIdentity(request);
          if (limit.isExceeded) return error(reply, 429, "rate_limited", "slow down");
        },
      ],
    },
    async (request, reply) => {
      const { userID, expired_ts: ttl } = request.query;
      if (Buffer.byteLength(userID) > 64) {
        return error(reply, 400, "invalid_user_id", "userID is at most 64 bytes");
      }
      if (AUTH === "jwt" && userID !== request.identity) {
        return error(reply, 403, "forbidden", "the JWT was issued for another user ID");
      }
      reply.header("cache-control", "no-store");
      return makeToken(key, userID, ttl);
    },
  );
  app.get("/metrics", async (request, reply) => {
    reply.header("content-type", client.register.contentType);
    return client.register.metrics();
  });

  await app.listen({ port: PORT, host: HOST });
  process.send({ port: app.server.address().port });
  process.on("SIGTERM", () =>
    app
      .close()
      .then(() => redis?.quit())
      .then(() => process.exit(0)),
  );
}
