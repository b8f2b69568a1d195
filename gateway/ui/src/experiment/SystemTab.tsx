// The System tab (Comet's System Metrics): the machine's CPU, memory, disk, network and GPU
// charts from the `:monitor:*` series, kept out of the Scalars tab, and the runtime properties.
import { useEffect, useState } from "react";
import { api, type Experiment } from "../api";
import { KeyValues } from "./ExecutionTab";
import { ScalarsTab } from "./ScalarsTab";

export function SystemTab({ experiment }: { experiment: Experiment }) {
  const [runtime, setRuntime] = useState<Record<string, string> | null>(null);
  useEffect(() => {
    api.execution(experiment.id).then((x) => setRuntime(x.runtime), () => setRuntime({}));
  }, [experiment.id]);
  return (
    <div className="stack">
      <ScalarsTab experiment={experiment} system />
      {runtime && <KeyValues title="Machine and runtime" values={runtime} empty="No runtime details reported." />}
    </div>
  );
}
