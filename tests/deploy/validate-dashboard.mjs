// Validate a Grafana dashboard's JSON offline, against the dashboard schema Grafana
// publishes (@grafana/schema: TypeScript types generated from Grafana's own schema
// of the dashboard JSON model, and of each panel plugin's options).
//
//   node validate-dashboard.mjs DASHBOARD.json
//
// Prints one JSON object: {package, schemaVersion, pluginVersion, errors}, where
// schemaVersion is the dashboard schema version of the Grafana release the package
// belongs to, and pluginVersion its panels' version; exits 0 when there are no
// errors, 1 when there are, 2 when it could not check.
//
// The TypeScript compiler checks the dashboard as a Dashboard, and each panel's
// options and fieldConfig.defaults.custom with the types of its panel plugin: wrong
// types, missing required fields, values outside an enum, and (excess property
// checks) fields the schema does not have.
//
// It must sit beside the node_modules it uses (the tests copy it there).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { typecheck } from "./typecheck.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PKG = "@grafana/schema";
// panel type -> the module of its plugin's options and custom field config
const PANEL_TYPES = {
  timeseries: `${PKG}/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen`,
  table: `${PKG}/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen`,
};

// The schema's enums are TypeScript enums, whose members a JSON string or number is
// not assignable to: Loose<T> is T with every enum replaced by the union of its values.
const LOOSE = `type Loose<T> =
  T extends string ? \`\${T}\` :
  T extends number ? T :
  T extends boolean ? T :
  T extends readonly (infer U)[] ? Loose<U>[] :
  T extends object ? { [K in keyof T]: Loose<T[K]> } :
  T;`;

function panelsOf(dashboard) {
  const out = [];
  for (const p of dashboard.panels ?? []) {
    out.push(p);
    for (const q of p.panels ?? []) out.push(q);  // a collapsed row's panels
  }
  return out;
}

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node validate-dashboard.mjs DASHBOARD.json");
    return 2;
  }
  const dashboard = JSON.parse(readFileSync(process.argv[2], "utf8"));
  const pkg = JSON.parse(readFileSync(join(here, "node_modules", PKG, "package.json"), "utf8"));
  const { defaultDashboard } = await import(PKG);
  const result = { package: `${PKG}@${pkg.version}`, schemaVersion: defaultDashboard.schemaVersion,
                   pluginVersion: null, errors: [] };

  const lines = [`import type { Dashboard } from ${JSON.stringify(PKG)};`];
  const types = Object.entries(PANEL_TYPES);
  types.forEach(([type, mod]) => lines.push(`import type * as ${type} from ${JSON.stringify(mod)};`));
  lines.push(...LOOSE.split("\n"));
  const what = new Map();  // line -> what it holds
  what.set(lines.length + 1, "dashboard");
  lines.push(`export const dashboard: Loose<Dashboard> = ${JSON.stringify(dashboard)};`);
  for (const p of panelsOf(dashboard)) {
    if (p.type === "row") continue;
    if (!(p.type in PANEL_TYPES)) {
      result.errors.push(`panel ${p.id}: no schema for panel type ${p.type}`);
      continue;
    }
    what.set(lines.length + 1, `panel ${p.id} options`);
    lines.push(`export const options${lines.length}: Loose<${p.type}.Options> = ${JSON.stringify(p.options ?? {})};`);
    what.set(lines.length + 1, `panel ${p.id} fieldConfig.defaults.custom`);
    lines.push(`export const custom${lines.length}: Loose<${p.type}.FieldConfig> = ` +
               `${JSON.stringify(p.fieldConfig?.defaults?.custom ?? {})};`);
  }
  const versions = new Set();
  for (const [, mod] of types) versions.add((await import(mod)).pluginVersion);
  result.pluginVersion = [...versions].join(",");

  const work = mkdtempSync(join(here, "work-"));
  try {
    const out = typecheck(work, "dashboard.ts", lines.join("\n") + "\n");
    // an error's first line names the line; the indented lines after it say more
    let last = null;
    for (const line of out.split("\n")) {
      const m = /dashboard\.ts\((\d+),\d+\): error (TS\d+: .*)$/.exec(line);
      if (m && what.has(Number(m[1]))) {
        last = `${what.get(Number(m[1]))}: ${m[2]}`;
        result.errors.push(last);
      } else if (line.startsWith(" ") && last !== null) {
        result.errors[result.errors.length - 1] += " " + line.trim();
      } else if (line.trim()) {
        throw new Error(`unexpected TypeScript output: ${line}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
  return result.errors.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`validate-dashboard.mjs: ${e.stack || e}`);
  process.exit(2);
});
