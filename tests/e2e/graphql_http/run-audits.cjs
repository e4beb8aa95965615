// Runs graphql-http's server audits (vendored: graphql-http-audits.js, MIT, LICENSE.md)
// against the URL given, and prints one JSON array of {id, name, status, reason}.
// Node 18+ (global fetch). Used by tests/e2e/test_graphql_http_audits.py.
"use strict";
const { auditServer } = require("./graphql-http-audits.js");

const url = process.argv[2];
const token = process.argv[3];
const fetchFn = token
  ? (input, init = {}) => {
      const headers = new Headers(init.headers || {});
      headers.set("authorization", `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    }
  : fetch;

auditServer({ url, fetchFn }).then(
  (results) => {
    const out = results.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      reason: r.status === "ok" ? "" : r.reason,
    }));
    process.stdout.write(JSON.stringify(out) + "\n");
  },
  (error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
    process.exit(2);
  },
);
