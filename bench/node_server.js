// The server benchmark's baseline: the token endpoint as a Node.js developer would deploy it.
//
// A bare `http` cluster (one worker per core unless WORKERS says otherwise) answering
// GET /api/token?userID=U&expired_ts=SECONDS with {"token", "expire"}: a Token04 GCM token made
// with `crypto`, behind the same Bearer API-key check our server does (SHA-256 of the key,
// compared in constant time). Written for this benchmark; no dependencies.
//
// Environment: ZEGO_APP_ID, ZEGO_SERVER_SECRET (32 characters), API_KEY_SHA256 (hex),
// HOST (default 127.0.0.1), PORT (default 0: any free port), WORKERS (default: cores).
// Prints "listening http://HOST:PORT" once every worker is accepting.
"use strict";

const cluster = require("node:cluster");
const crypto = require("node:crypto");
const http = require("node:http");
const os = require("node:os");
const token04 = require("./token04.js");
const { runPrimary } = require("./cluster.js");

const HOST = process.env.HOST || "127.0.0.1";
const PORT = Number(process.env.PORT || 0);
const WORKERS = Number(process.env.WORKERS || os.availableParallelism());
const MAX_TTL = 86400;

function fail(message) {
  console.error(`node_server: ${message}`);
  process.exit(2);
}

const appId = Number(process.env.ZEGO_APP_ID);
const secret = process.env.ZEGO_SERVER_SECRET || "";
const keyHashHex = process.env.API_KEY_SHA256 || "";
if (!Number.isInteger(appId) || appId <= 0) fail("set ZEGO_APP_ID to a positive integer");
if (secret.length !== 32) fail("set ZEGO_SERVER_SECRET to the 32-character ServerSecret");
if (!/^[0-9a-f]{64}$/.test(keyHashHex)) fail("set API_KEY_SHA256 to a SHA-256 hex digest");

if (cluster.isPrimary) {
  runPrimary("node_server", WORKERS, HOST);
} else {
  const key = Buffer.from(secret, "utf8");
  const keyHash = Buffer.from(keyHashHex, "hex");

  function makeToken(userId, ttl) {
    return token04.makeToken(key, appId, userId, ttl);
  }

  function send(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Cache-Control": "no-store",
    });
    res.end(text);
  }

  function error(res, status, code, message) {
    send(res, status, { error: { code: code, message: message } });
  }

  function authorized(header) {
    if (typeof header !== "string" || !header.startsWith("Bearer ")) return false;
    const digest = crypto.createHash("sha256").update(header.slice(7)).digest();
    return crypto.timingSafeEqual(digest, keyHash);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    if (url.pathname !== "/api/token") return error(res, 404, "not_found", "no such endpoint");
    if (req.method !== "GET") return error(res, 405, "method_not_allowed", "use GET");
    if (!authorized(req.headers.authorization)) {
      return error(res, 401, "unauthorized", "send Authorization: Bearer <API key>");
    }
    const userId = url.searchParams.get("userID");
    if (!userId || Buffer.byteLength(userId) > 64) {
      return error(res, 400, "invalid_user_id", "userID is required, at most 64 bytes");
    }
    const ttlText = url.searchParams.get("expired_ts") || "3600";
    const ttl = Number(ttlText);
    if (!/^[0-9]+$/.test(ttlText) || ttl < 1 || ttl > MAX_TTL) {
      return error(res, 422, "invalid_ttl", `expired_ts must be 1..${MAX_TTL} seconds`);
    }
    send(res, 200, makeToken(userId, ttl));
  });
  server.keepAliveTimeout = 65000;
  server.listen(PORT, HOST, () => process.send({ port: server.address().port }));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
