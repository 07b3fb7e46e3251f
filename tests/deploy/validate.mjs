// Validate Kubernetes manifests offline, against the schemas of the API server
// and of the Prometheus Operator's CRDs, as strictly as `kubectl apply
// --validate=strict`: unknown fields, wrong types, bad enum values, missing
// required fields are all errors.
//
//   node validate.mjs DOCS.json      (a JSON array of manifests)
//
// Prints a JSON array with one {index, kind, name, errors} per manifest; exits 0
// when every manifest is valid, 1 when some is not, 2 when it could not check.
//
// Two checks, both generated from the upstream schemas (kubernetes-models: the
// Kubernetes OpenAPI spec; @kubernetes-models/prometheus-operator: the CRDs'
// openAPIV3Schema):
//  - the models' JSON Schema validators (ajv): types, enums, patterns, formats,
//    required fields;
//  - the TypeScript compiler over the models' interfaces: the JSON schemas allow
//    any additional property, the interfaces do not (excess property checks), so
//    a misspelt or misplaced field is an error here, as it is for the API server.
//
// It must sit beside the node_modules it uses (the test copies it there).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { typecheck } from "./typecheck.mjs";

const here = dirname(fileURLToPath(import.meta.url));

// apiVersion group -> the package whose models cover it
function modulePath(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  if (group === "monitoring.coreos.com")
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (group === "" || !group.includes(".") || group.endsWith(".k8s.io"))
    return `kubernetes-models/${apiVersion}/${kind}`;
  return null;
}

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node validate.mjs DOCS.json");
    return 2;
  }
  const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
  if (!Array.isArray(docs)) throw new Error("DOCS.json must hold a JSON array");

  const results = [];
  const typed = []; // [index, module, kind] of the documents with a model
  for (const [index, doc] of docs.entries()) {
    const kind = doc?.kind, apiVersion = doc?.apiVersion;
    const result = { index, kind: kind ?? null, name: doc?.metadata?.name ?? null, errors: [] };
    results.push(result);
    const mod = typeof kind === "string" && typeof apiVersion === "string"
      ? modulePath(apiVersion, kind) : null;
    let Model = null;
    if (mod) {
      try {
        Model = (await import(mod))[kind];
      } catch {
        Model = null;
      }
    }
    if (typeof Model !== "function") {
      result.errors.push(`no schema for apiVersion ${apiVersion} kind ${kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      for (const line of String(e.message).split("\n"))
        if (line.trim()) result.errors.push(`schema: ${line.trim()}`);
    }
    typed.push([index, mod, kind]);
  }

  // One TypeScript file, one manifest per line, each typed with its model's
  // interface; the compiler's errors are mapped back by line.
  if (typed.length) {
    const work = mkdtempSync(join(here, "work-"));
    try {
      const lines = [];
      const lineOf = new Map();
      typed.forEach(([index, mod, kind], i) => {
        lines.push(`import type { I${kind} as T${i} } from ${JSON.stringify(mod)};`);
      });
      typed.forEach(([index], i) => {
        lineOf.set(lines.length + 1, index);
        lines.push(`export const doc${i}: T${i} = ${JSON.stringify(docs[index])};`);
      });
      const out = typecheck(work, "manifests.ts", lines.join("\n") + "\n");
      for (const line of out.split("\n")) {
        const m = /manifests\.ts\((\d+),\d+\): error (TS\d+: .*)$/.exec(line);
        if (m && lineOf.has(Number(m[1])))
          results[lineOf.get(Number(m[1]))].errors.push(`strict: ${m[2]}`);
        else if (line.trim() && !line.startsWith(" "))
          throw new Error(`unexpected TypeScript output: ${line}`);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify(results, null, 2));
  return results.every((r) => r.errors.length === 0) ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`validate.mjs: ${e.stack || e}`);
  process.exit(2);
});
