// The `cluster` primary both Node.js contenders run: it forks `workers` workers, prints
// "listening http://HOST:PORT" once every worker has reported its port (a { port } message),
// and stops them on SIGTERM.
"use strict";

const cluster = require("node:cluster");

function runPrimary(name, workers, host) {
  let ready = 0;
  let port = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on("message", (message) => {
      port = message.port;
      ready += 1;
      if (ready === workers) console.log(`listening http://${host}:${port}`);
    });
  }
  cluster.on("exit", (worker, code) => {
    console.error(`${name}: worker ${worker.process.pid} exited with ${code}`);
  });
  process.on("SIGTERM", () => {
    for (const id in cluster.workers) cluster.workers[id].kill("SIGTERM");
    process.exit(0);
  });
}

module.exports = { runPrimary };
