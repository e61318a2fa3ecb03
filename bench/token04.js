// One GCM Token04 for the Node.js contenders (bench/node_server.js, bench/fastify/server.js),
// written from the format facts in tests/vectors/README.md: the same token our server mints.
"use strict";
const crypto = require("node:crypto");

function makeToken(key, appId, userId, ttl) {
  const ctime = Math.floor(Date.now() / 1000);
  const expire = ctime + ttl;
  const nonce = crypto.randomInt(-2147483648, 2147483647);
  const iv = crypto.randomBytes(12);
  const plaintext = JSON.stringify({
    app_id: appId,
    user_id: userId,
    nonce: nonce,
    ctime: ctime,
    expire: expire,
    payload: "",
  });
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  const body = Buffer.alloc(8 + 2 + iv.length + 2 + sealed.length + 1);
  let offset = body.writeBigInt64BE(BigInt(expire), 0);
  offset = body.writeUInt16BE(iv.length, offset);
  offset += iv.copy(body, offset);
  offset = body.writeUInt16BE(sealed.length, offset);
  offset += sealed.copy(body, offset);
  body.writeUInt8(1, offset);
  return { token: "04" + body.toString("base64"), expire: expire };
}

module.exports = { makeToken };
