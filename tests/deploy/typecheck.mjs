// The TypeScript compiler, strict, over one generated source file in the directory
// work: what the validators check their documents with. It must sit beside the
// node_modules it uses (the tests copy it there, with the validators).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

// work/name := source; the compiler's output about it, "" when it found nothing wrong
export function typecheck(work, name, source) {
  writeFileSync(join(work, name), source);
  writeFileSync(join(work, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: "es2022", module: "nodenext",
      moduleResolution: "nodenext", skipLibCheck: true, types: [],
    },
    files: [name],
  }));
  try {
    execFileSync(process.execPath,
      [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", work],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return "";
  } catch (e) {
    const out = (e.stdout || "") + (e.stderr || "");
    if (!out.trim()) throw e;
    return out;
  }
}
