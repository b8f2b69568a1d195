// Validates custom resources (JSON lines on stdin: {"apiVersion", "kind", …}) against their
// CRDs' schemas, as compiled into the @kubernetes-models packages. Prints one JSON line per
// object: {"name", "kind", "errors": [...]}; an object of a kind it has no schema for is an error.
import { createInterface } from "node:readline";

const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const obj = JSON.parse(line);
  const [group, version] = obj.apiVersion.split("/");
  const out = { name: obj.metadata?.name, kind: obj.kind, errors: [] };
  const pkg = PACKAGES[group];
  if (!pkg) out.errors.push(`no CRD schema known for ${obj.apiVersion}`);
  else {
    try {
      const module = await import(`${pkg}/${group}/${version}/${obj.kind}`);
      new module[obj.kind](obj).validate();
    } catch (e) {
      out.errors.push(String(e?.message ?? e).slice(0, 2000));
    }
  }
  console.log(JSON.stringify(out));
}
