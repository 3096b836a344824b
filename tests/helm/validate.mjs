// Renders helm/orderquery for each value set with oqhelm and checks what comes out:
//   - values (merged, as Helm validates them) against values.schema.json with ajv; the bad value
//     sets must be refused at the key they break;
//   - every object against the Kubernetes OpenAPI schemas (kubernetes-models; ServiceMonitor
//     with @kubernetes-models/prometheus-operator), plus unknown fields (kubectl
//     --validate=strict) from the models' type declarations;
//   - facts the chart promises (security context, gRPC probes, grace period derived from
//     shutdown_grace_ms, secrets only referenced, Ingress routes only the public paths, ...).
// Prints one line per check and ends with "N passed, M failed"; exit 1 when any failed.
//
// usage: node validate.mjs OQHELM CHART_DIR CASES_DIR [ORDERQUERYD [ORDERQUERY_GATEWAY]]
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import Ajv from "ajv";

const [oqhelm, chartDir, casesDir, orderqueryd, gatewayBin] = process.argv.slice(2);
if (!oqhelm || !chartDir || !casesDir) {
  console.error("usage: node validate.mjs OQHELM CHART_DIR CASES_DIR [ORDERQUERYD [ORDERQUERY_GATEWAY]]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`PASS ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ": " + detail : ""}`);
  }
  return ok;
}

function render(args) {
  const r = spawnSync(oqhelm, ["--json", "--name", "oq", "--namespace", "payments", ...args, chartDir], {
    encoding: "utf8",
    timeout: 30000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) return { ok: false, error: (r.stderr || String(r.error)).trim() };
  return { ok: true, ...JSON.parse(r.stdout) };
}

// ---- values.schema.json ----
const schema = JSON.parse(readFileSync(path.join(chartDir, "values.schema.json"), "utf8"));
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validateValues = ajv.compile(schema);
function schemaErrors(values) {
  return validateValues(values) ? [] : validateValues.errors.map((e) => `${e.instancePath} ${e.message}`);
}

// ---- Kubernetes schemas ----
const modelPackages = {
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
async function modelClass(apiVersion, kind) {
  const mod = modelPackages[apiVersion] ?? `kubernetes-models/${apiVersion}`;
  try {
    const m = await import(`${mod}/${kind}`);
    return m[kind];
  } catch {
    return undefined;
  }
}

// Unknown fields: walk the object along the models' TypeScript declarations (each interface's
// quoted property names and the interfaces they refer to). Maps and inline types end the walk.
const declCache = new Map();
function declFor(file) {
  if (declCache.has(file)) return declCache.get(file);
  const text = readFileSync(file, "utf8");
  const imports = {};
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
    const spec = m[2];
    let target;
    try {
      target = spec.startsWith(".")
        ? path.resolve(path.dirname(file), spec)
        : fileURLToPath(import.meta.resolve(spec));
    } catch {
      continue; // not a model (e.g. @kubernetes-models/base helpers)
    }
    imports[m[1]] = target.replace(/\.js$/, "") + ".d.ts";
  }
  const body = text.match(/export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/);
  const props = {};
  if (body) {
    for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
      const ref = m[2].match(/^(?:Array<)?(I\w+)>?$/);
      props[m[1]] = ref && imports[ref[1]] ? { file: imports[ref[1]], array: m[2].startsWith("Array<") } : null;
    }
  }
  const decl = { props, found: !!body };
  declCache.set(file, decl);
  return decl;
}
function unknownFields(obj, file, at, out) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return out;
  const decl = existsSync(file) ? declFor(file) : { found: false };
  if (!decl.found) {
    out.push(`${at}: no type declarations readable in ${file}`);
    return out;
  }
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in decl.props)) {
      out.push(`${at}/${k}`);
      continue;
    }
    const ref = decl.props[k];
    if (!ref || v === null) continue;
    if (ref.array && Array.isArray(v)) v.forEach((x, i) => unknownFields(x, ref.file, `${at}/${k}/${i}`, out));
    else if (!ref.array) unknownFields(v, ref.file, `${at}/${k}`, out);
  }
  return out;
}
function declFile(apiVersion, kind) {
  const mod = modelPackages[apiVersion] ?? `kubernetes-models/${apiVersion}`;
  try {
    return fileURLToPath(import.meta.resolve(`${mod}/${kind}`)).replace(/\.js$/, ".d.ts");
  } catch {
    return undefined;
  }
}

async function validateObject(o) {
  const cls = await modelClass(o.apiVersion, o.kind);
  if (!cls) return [`no schema for ${o.apiVersion} ${o.kind}`];
  const errs = [];
  try {
    new cls(o).validate();
  } catch (e) {
    errs.push(String(e.message).slice(0, 600));
  }
  const f = declFile(o.apiVersion, o.kind);
  if (!f || !existsSync(f)) errs.push(`no type declarations for ${o.kind}`);
  else for (const u of unknownFields(o, f, "", [])) errs.push(`unknown field ${u}`);
  return errs;
}

// ---- the binaries' configuration keys: their --help (or their source without a build) ----
// Keys the chart writes before the binaries read them: listed here so the check names them.
const pendingKeys = { orderqueryd: new Set(["notify.listen", "admin.listen"]), gateway: new Set() };
function helpKeys(binary, lineRe) {
  if (!binary || !existsSync(binary)) return new Set();
  const r = spawnSync(binary, ["--help"], { encoding: "utf8", timeout: 10000 });
  return new Set([...(r.stdout || "").matchAll(lineRe)].map((m) => m[1].replace(".NAME.", ".*.")));
}
function serverKeys() {
  const keys = helpKeys(orderqueryd, /^ {2}([A-Za-z0-9_.]+) {2}\[ORDERQUERY_/gm);
  if (keys.size) return { keys, from: "orderqueryd --help" };
  const src = readFileSync(path.join(chartDir, "../../server/config/config.cc"), "utf8");
  const group = { W: "wechat.merchants", T: "trade.merchants", C: "auth.callers" };
  for (const m of src.matchAll(/(?:Str|Int|Bool|List)<(Config|W|T|C)>\(\s*"([^"]+)"/g)) {
    keys.add(m[1] === "Config" ? m[2] : `${group[m[1]]}.*.${m[2]}`);
  }
  return { keys, from: "server/config/config.cc" };
}
function gatewayKeys() {
  const keys = helpKeys(gatewayBin, /^ {2}([a-z0-9_.]+) +GATEWAY_[A-Z0-9_]+ /gm);
  if (keys.size) return { keys, from: "orderquery-gateway --help" };
  const src = readFileSync(path.join(chartDir, "../../gateway/config.go"), "utf8");
  for (const m of src.matchAll(/^\t\t\{"([a-z0-9_.]+)", "/gm)) keys.add(m[1]);
  return { keys, from: "gateway/config.go" };
}
function flatten(o, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}
const keySources = { orderqueryd: serverKeys(), gateway: gatewayKeys() };
for (const [who, { keys, from }] of Object.entries(keySources)) {
  check(`${who}: configuration keys read from ${from}`, keys.size >= 10, `${keys.size} keys`);
}

// ---- helpers over a rendering ----
const objs = (r) => r.manifests.map((m) => m.object);
const ofKind = (r, kind) => objs(r).filter((o) => o.kind === kind);
const named = (r, kind, name) => ofKind(r, kind).find((o) => o.metadata.name === name);
const podSpecs = (r) =>
  objs(r)
    .filter((o) => ["Deployment", "Job"].includes(o.kind))
    .map((o) => ({ owner: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec, labels: o.spec.template.metadata.labels }));
const selects = (selector, labels) => Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector || {}).length > 0;
const serverName = "oq-orderquery";
const gatewayName = "oq-orderquery-gateway";
const secretLike = /PASSWORD|SECRET|TOKEN|PRIVATE_KEY|_KEY$|_PEM$/;
const secretConfigKeys = new Set(["password", "private_key_pem", "key", "apiv3_key", "api_v3_key"]);

function configOf(r, name) {
  const cm = named(r, "ConfigMap", name);
  return cm ? JSON.parse(cm.data["config.json"]) : undefined;
}

async function checkCommon(label, r, values) {
  const errs = schemaErrors(r.values);
  check(`${label}: values match values.schema.json`, errs.length === 0, errs.join("; "));

  for (const m of r.manifests) {
    const o = m.object;
    const e = await validateObject(o);
    check(`${label}: ${o.kind}/${o.metadata.name} is a valid ${o.apiVersion} ${o.kind}`, e.length === 0, e.join("; "));
    const l = o.metadata.labels || {};
    check(`${label}: ${o.kind}/${o.metadata.name} carries the release labels`,
      l["app.kubernetes.io/managed-by"] === "Helm" && l["app.kubernetes.io/instance"] === "oq" && l["app.kubernetes.io/name"] === "orderquery");
    check(`${label}: ${o.kind}/${o.metadata.name} name fits 63 chars`, o.metadata.name.length <= 63);
  }

  // No Secret is rendered, and no literal secret reaches a manifest.
  check(`${label}: no Secret object is rendered`, ofKind(r, "Secret").length === 0);
  for (const { owner, spec } of podSpecs(r)) {
    check(`${label}: ${owner} automountServiceAccountToken is false`, spec.automountServiceAccountToken === false);
    // orderqueryd reads ORDERQUERY_* env as configuration; service links would inject some.
    check(`${label}: ${owner} enableServiceLinks is false`, spec.enableServiceLinks === false);
    const psc = spec.securityContext || {};
    check(`${label}: ${owner} pod runs as non-root with seccomp RuntimeDefault`,
      psc.runAsNonRoot === true && psc.runAsUser > 0 && psc.seccompProfile?.type === "RuntimeDefault");
    for (const c of [...(spec.initContainers || []), ...spec.containers]) {
      const sc = c.securityContext || {};
      check(`${label}: ${owner}/${c.name} securityContext is locked down`,
        sc.runAsNonRoot === true && sc.readOnlyRootFilesystem === true && sc.allowPrivilegeEscalation === false &&
          sc.privileged !== true && (sc.capabilities?.drop || []).includes("ALL") && !(sc.capabilities?.add || []).length &&
          (sc.seccompProfile?.type ?? psc.seccompProfile?.type) === "RuntimeDefault",
        JSON.stringify(sc));
      check(`${label}: ${owner}/${c.name} has CPU and memory requests and a memory limit`,
        !!(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory));
      const literal = (c.env || []).filter((e) => secretLike.test(e.name) && (e.value !== undefined || !e.valueFrom?.secretKeyRef));
      check(`${label}: ${owner}/${c.name} secret-like env vars come from Secrets only`, literal.length === 0,
        literal.map((e) => e.name).join(","));
      // Every file path in a config.json mounted here lies under one of the container's mounts,
      // and a file the config names in a Secret-backed directory comes from that Secret.
      const mounts = (c.volumeMounts || []).map((vm) => ({ ...vm, volume: spec.volumes.find((v) => v.name === vm.name) }));
      check(`${label}: ${owner}/${c.name} mounts only declared volumes`, mounts.every((m) => m.volume), mounts.filter((m) => !m.volume).map((m) => m.name).join(","));
      const cfgMount = mounts.find((m) => m.volume?.configMap);
      const cfg = cfgMount && configOf(r, cfgMount.volume.configMap.name);
      if (cfg) {
        const files = Object.entries(flatten(cfg))
          .filter(([k]) => /_file$|_files$/.test(k))
          .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((f) => [k, f]))
          .filter(([, f]) => f);
        for (const [k, f] of files) {
          check(`${label}: ${owner}/${c.name} ${k} (${f}) is inside a mounted Secret`,
            mounts.some((m) => m.volume?.secret && f.startsWith(m.mountPath + "/")));
        }
        const bad = Object.keys(flatten(cfg)).filter((k) => secretConfigKeys.has(k.split(".").pop()));
        check(`${label}: ${owner} config.json holds no secret value`, bad.length === 0, bad.join(","));
      }
    }
  }

  // Each config.json uses only keys its binary reads (or keys listed as pending).
  const serverCfg = configOf(r, serverName);
  check(`${label}: orderqueryd config.json is rendered`, !!serverCfg);
  const gatewayCfg = configOf(r, gatewayName);
  check(`${label}: gateway config.json rendered exactly when the gateway is`, !!gatewayCfg === !!named(r, "Deployment", gatewayName));
  for (const [who, cfg] of [["orderqueryd", serverCfg], ["gateway", gatewayCfg]]) {
    if (!cfg) continue;
    const { keys, from } = keySources[who];
    const flat = Object.keys(flatten(cfg)).map((k) => k.replace(/^(wechat\.merchants|trade\.merchants|auth\.callers)\.[^.]+\./, "$1.*."));
    const unknown = flat.filter((k) => !keys.has(k) && !pendingKeys[who].has(k));
    check(`${label}: ${who} config.json uses only keys that ${from} lists`, unknown.length === 0, unknown.join(","));
    const pending = flat.filter((k) => pendingKeys[who].has(k) && !keys.has(k));
    if (pending.length) console.log(`NOTE ${label}: keys written for ${who} that ${from} does not list yet: ${pending.join(", ")}`);
  }

  // Services select pods, and every targetPort name is a port of those pods.
  for (const svc of ofKind(r, "Service")) {
    const pods = podSpecs(r).filter((p) => p.owner.startsWith("Deployment/") && selects(svc.spec.selector, p.labels));
    check(`${label}: Service/${svc.metadata.name} selects exactly one Deployment`, pods.length === 1, `${pods.length}`);
    for (const p of svc.spec.ports) {
      const ok = pods.length === 1 && pods[0].spec.containers.some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort));
      check(`${label}: Service/${svc.metadata.name} port ${p.name} targets a container port`, ok);
    }
  }
  for (const pdb of ofKind(r, "PodDisruptionBudget")) {
    check(`${label}: PodDisruptionBudget/${pdb.metadata.name} selects a Deployment's pods`,
      podSpecs(r).some((p) => p.owner.startsWith("Deployment/") && selects(pdb.spec.selector.matchLabels, p.labels)));
  }
  for (const hpa of ofKind(r, "HorizontalPodAutoscaler")) {
    const d = named(r, "Deployment", hpa.spec.scaleTargetRef.name);
    check(`${label}: HorizontalPodAutoscaler/${hpa.metadata.name} scales a rendered Deployment that sets no replicas`,
      !!d && d.spec.replicas === undefined && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
  }
  for (const np of ofKind(r, "NetworkPolicy")) {
    const pods = podSpecs(r).filter((p) => selects(np.spec.podSelector.matchLabels, p.labels));
    check(`${label}: NetworkPolicy/${np.metadata.name} selects a Deployment's pods`, pods.length === 1);
    const portNames = new Set(pods.flatMap((p) => p.spec.containers.flatMap((c) => (c.ports || []).map((cp) => cp.name))));
    for (const rule of np.spec.ingress) {
      for (const p of rule.ports) {
        check(`${label}: NetworkPolicy/${np.metadata.name} port ${p.port} is a port of the pods`, portNames.has(p.port));
        if (["metrics", "grpc", "internal"].includes(p.port)) {
          const from = rule.from || [];
          const onlyNsOrMonitoring = from.length > 0 && from.every((f) => f.podSelector !== undefined ? Object.keys(f).length === 1 : f.namespaceSelector !== undefined);
          check(`${label}: NetworkPolicy/${np.metadata.name} ${p.port} is reachable only from listed peers`, onlyNsOrMonitoring, JSON.stringify(from));
        }
        if (p.port === "metrics") {
          const from = rule.from || [];
          const expected = from.length === 2 && JSON.stringify(from[0]) === '{"podSelector":{}}' &&
            JSON.stringify(from[1].namespaceSelector) === JSON.stringify(r.values.networkPolicy.monitoringNamespaceSelector);
          check(`${label}: NetworkPolicy/${np.metadata.name} metrics only from the namespace and monitoring`, expected, JSON.stringify(from));
        }
      }
    }
  }

  // orderqueryd: probes, grace derived from shutdown_grace_ms.
  const d = named(r, "Deployment", serverName);
  check(`${label}: orderqueryd Deployment is rendered`, !!d);
  if (d && serverCfg) {
    const c = d.spec.template.spec.containers[0];
    const grpcPort = c.ports.find((p) => p.name === "grpc")?.containerPort;
    check(`${label}: orderqueryd listens where its gRPC port says`, serverCfg.listen === `0.0.0.0:${grpcPort}`);
    const want = values.probes;
    for (const [probe, type] of [["readinessProbe", want.type], ["startupProbe", want.type], ["livenessProbe", want.livenessType]]) {
      const p = c[probe];
      let ok = false;
      if (type === "grpc") ok = p?.grpc?.port === grpcPort && !p.exec && !p.tcpSocket && !p.httpGet;
      if (type === "exec") ok = p?.exec?.command?.[0] === "/usr/local/bin/oqctl" && p.exec.command.at(-1) === "health" &&
        p.exec.command.includes(`localhost:${grpcPort}`) && (!serverCfg.tls || p.exec.command.includes("--ca"));
      if (type === "tcp") ok = p?.tcpSocket?.port === "grpc";
      const what = { grpc: "the kubelet's gRPC probe (grpc.health.v1)", exec: "oqctl health (grpc.health.v1 over TLS)", tcp: "a TCP connect" }[type];
      check(`${label}: orderqueryd ${probe} is ${what} on port ${grpcPort}`, ok, JSON.stringify(p));
    }
    const startup = c.startupProbe;
    check(`${label}: startup probe outlasts db.startup_timeout_ms`,
      startup.periodSeconds * startup.failureThreshold * 1000 >= serverCfg.db.startup_timeout_ms);
    const sleep = Number(c.lifecycle?.preStop?.exec?.command?.[1]);
    const tgps = d.spec.template.spec.terminationGracePeriodSeconds;
    const expected = sleep + Math.ceil(serverCfg.shutdown_grace_ms / 1000) + r.values.server.drain.extraSeconds;
    check(`${label}: terminationGracePeriodSeconds (${tgps}) = preStop ${sleep}s + shutdown_grace_ms ${serverCfg.shutdown_grace_ms} + margin`,
      tgps === expected && tgps * 1000 > sleep * 1000 + serverCfg.shutdown_grace_ms, `expected ${expected}`);
    const env = c.env.find((e) => e.name === "ORDERQUERY_DB_PASSWORD");
    check(`${label}: ORDERQUERY_DB_PASSWORD comes from Secret ${r.values.db.passwordSecret.name}`,
      env?.valueFrom?.secretKeyRef?.name === r.values.db.passwordSecret.name && env.valueFrom.secretKeyRef.key === r.values.db.passwordSecret.key);
    check(`${label}: orderqueryd runs with the rendered config`, c.command.join(" ").endsWith("--config /etc/orderquery/config/config.json"));
    for (const [name, m] of Object.entries(r.values.wechat?.merchants || {})) {
      const vol = d.spec.template.spec.volumes.find((v) => v.secret?.secretName === m.secretName);
      const mount = vol && c.volumeMounts.find((vm) => vm.name === vol.name);
      check(`${label}: WeChat merchant ${name} keys mounted read-only from Secret ${m.secretName}`,
        !!mount && mount.readOnly === true && mount.mountPath === `/etc/orderquery/wechat/${name}` &&
          serverCfg.wechat.merchants[name].private_key_file.startsWith(mount.mountPath + "/") &&
          (!m.apiV3KeyKey || serverCfg.wechat.merchants[name].apiv3_key_file === `${mount.mountPath}/${m.apiV3KeyKey}`));
    }
    // API keys of the callers of the internal RPCs: files from their Secrets, never values.
    const callers = { ...(r.values.auth?.callers || {}) };
    if (r.values.auth?.gatewayKeySecret?.name) {
      callers.gateway = { secretName: r.values.auth.gatewayKeySecret.name, keyKey: r.values.auth.gatewayKeySecret.key,
        methods: ["/orderquery.v1.OrderQueryService/GetVehicleTransaction", "/orderquery.v1.TradeOrderService/GetTradeOrder"] };
    }
    check(`${label}: orderqueryd's callers are exactly the configured ones`,
      Object.keys(serverCfg.auth?.callers || {}).sort().join(",") === Object.keys(callers).sort().join(","));
    for (const [name, a] of Object.entries(callers)) {
      const vol = d.spec.template.spec.volumes.find((v) => v.secret?.secretName === a.secretName);
      const mount = vol && c.volumeMounts.find((vm) => vm.name === vol.name);
      const cc = serverCfg.auth?.callers?.[name];
      check(`${label}: caller ${name}'s API key mounted read-only from Secret ${a.secretName}`,
        !!mount && mount.readOnly === true && mount.mountPath === `/etc/orderquery/auth/${name}` && !!cc &&
          cc.key_file === `${mount.mountPath}/${a.keyKey || "api-key"}` && cc.key === undefined &&
          JSON.stringify(cc.methods) === JSON.stringify(a.methods) && !!cc.operator === !!a.operator);
    }
  }

  const gd = named(r, "Deployment", gatewayName);
  if (gd && gatewayCfg) {
    const c = gd.spec.template.spec.containers[0];
    const sleep = Number(c.lifecycle?.preStop?.exec?.command?.[1]);
    const tgps = gd.spec.template.spec.terminationGracePeriodSeconds;
    const expected = sleep + Math.ceil(gatewayCfg.shutdown_grace_ms / 1000) + r.values.gateway.drain.extraSeconds;
    check(`${label}: gateway terminationGracePeriodSeconds (${tgps}) = preStop ${sleep}s + shutdown_grace_ms ${gatewayCfg.shutdown_grace_ms} + margin`,
      tgps === expected && tgps * 1000 > sleep * 1000 + gatewayCfg.shutdown_grace_ms, `expected ${expected}`);
    const port = (name) => c.ports.find((p) => p.name === name)?.containerPort;
    check(`${label}: gateway listens where its ports say`,
      gatewayCfg.listen === `0.0.0.0:${port("public")}` && gatewayCfg.internal_listen === `0.0.0.0:${port("internal")}`);
    check(`${label}: gateway is ready on /healthz of its internal port`,
      c.readinessProbe?.httpGet?.path === "/healthz" && c.readinessProbe.httpGet.port === "internal");
    check(`${label}: gateway calls orderqueryd's Service`,
      gatewayCfg.upstream.target === `${serverName}.payments.svc:${r.values.server.ports.grpc}` && !!named(r, "Service", serverName));
    check(`${label}: gateway uses TLS to orderqueryd exactly when orderqueryd serves TLS`, (gatewayCfg.upstream.tls === true) === !!serverCfg?.tls);
    const gk = r.values.auth?.gatewayKeySecret;
    if (gk?.name) {
      const vol = gd.spec.template.spec.volumes.find((v) => v.secret?.secretName === gk.name);
      const mount = vol && c.volumeMounts.find((vm) => vm.name === vol.name);
      check(`${label}: gateway's API key mounted read-only from Secret ${gk.name} and named in its config`,
        !!mount && mount.readOnly === true && gatewayCfg.upstream.api_key_file === `${mount.mountPath}/${gk.key}` &&
          gatewayCfg.upstream.api_key === undefined && serverCfg?.auth?.callers?.gateway?.key_file?.endsWith(`/${gk.key}`));
    } else {
      check(`${label}: gateway sends no API key without auth.gatewayKeySecret`,
        gatewayCfg.upstream.api_key_file === undefined && gatewayCfg.upstream.api_key === undefined);
    }
  }

  // Migrations: a pre-install/pre-upgrade hook with a database-only config.
  const job = ofKind(r, "Job")[0];
  if (r.values.migrations.enabled) {
    check(`${label}: migration Job is a pre-install,pre-upgrade hook`,
      !!job && job.metadata.annotations["helm.sh/hook"] === "pre-install,pre-upgrade" &&
        job.spec.template.spec.containers[0].command.includes("--migrate-only"));
    const cmName = job?.spec.template.spec.volumes.find((v) => v.configMap)?.configMap.name;
    const cm = named(r, "ConfigMap", cmName);
    check(`${label}: migration config is a hook created before the Job`,
      !!cm && cm.metadata.annotations?.["helm.sh/hook"] === job.metadata.annotations["helm.sh/hook"] &&
        Number(cm.metadata.annotations["helm.sh/hook-weight"]) < Number(job.metadata.annotations["helm.sh/hook-weight"] || 0));
    const mcfg = cm && JSON.parse(cm.data["config.json"]);
    check(`${label}: migration config has the database keys only`, !!mcfg && Object.keys(mcfg).sort().join(",") === "db,log_level");
    check(`${label}: migration Job mounts no Secret volume`, !!job && !job.spec.template.spec.volumes.some((v) => v.secret));
  } else {
    check(`${label}: no migration Job`, !job);
  }

  // Ingress: exactly the public paths, to the right ports.
  for (const ing of ofKind(r, "Ingress")) {
    const routes = ing.spec.rules.flatMap((rule) => rule.http.paths.map((p) => `${p.pathType} ${p.path} -> ${p.backend.service.name}:${p.backend.service.port.name}`));
    const want = new Set();
    if (r.values.gateway.enabled) want.add(`Exact /app/app/recharge/queryOrder -> ${gatewayName}:public`);
    if (r.values.server.notify.enabled) want.add(`Prefix /notify/wechat/ -> ${serverName}:notify`);
    const distinct = new Set(routes);
    check(`${label}: Ingress routes only the public paths`,
      distinct.size === want.size && [...distinct].every((x) => want.has(x)) && ing.spec.rules.length === r.values.ingress.hosts.length,
      routes.join(" | "));
    for (const route of distinct) {
      const [, svcPort] = route.split(" -> ");
      const [svcName, port] = svcPort.split(":");
      check(`${label}: Ingress backend ${svcPort} exists`, !!named(r, "Service", svcName)?.spec.ports.some((p) => p.name === port));
    }
  }

  // ServiceMonitor selects the Services with a metrics port.
  for (const sm of ofKind(r, "ServiceMonitor")) {
    const svcs = ofKind(r, "Service").filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels));
    const withMetrics = ofKind(r, "Service").filter((s) => s.spec.ports.some((p) => p.name === "metrics"));
    check(`${label}: ServiceMonitor selects every Service that has a metrics port`,
      withMetrics.length > 0 && withMetrics.every((s) => svcs.includes(s)) && sm.spec.endpoints.every((e) => e.port === "metrics"));
  }

  // NOTES.txt renders and names the Secrets to create.
  check(`${label}: NOTES.txt renders and names the database Secret`, r.notes.includes(r.values.db.passwordSecret.name), r.notes.slice(0, 200));
}

// ---- oqhelm's own tests (run.sh ran `go test` and passes the outcome) ----
if (process.env.OQ_OQHELM_TESTS !== undefined) {
  check("oqhelm: go test (values merging, --set, include/tpl/required/fail, .Files, splitting, kubeVersion)",
    process.env.OQ_OQHELM_TESTS === "ok", process.env.OQ_OQHELM_TESTS);
}

// ---- the value sets ----
const cases = [
  { label: "default", files: [] },
  { label: "full", files: ["values-full.yaml"] },
  { label: "minimal", files: ["values-minimal.yaml"] },
];
const kinds = {};
for (const c of cases) {
  const r = render(c.files.flatMap((f) => ["-f", path.join(casesDir, f)]));
  if (!check(`${c.label}: renders`, r.ok, r.error)) continue;
  kinds[c.label] = r.manifests.map((m) => m.object.kind).sort();
  await checkCommon(c.label, r, r.values.server);
  c.r = r;
}

// What each value set switches on or off.
const count = (label, kind) => (kinds[label] || []).filter((k) => k === kind).length;
if (kinds.default) {
  check("default: two Deployments, no Ingress/HPA/ServiceMonitor/dashboard",
    count("default", "Deployment") === 2 && count("default", "Ingress") === 0 && count("default", "HorizontalPodAutoscaler") === 0 &&
      count("default", "ServiceMonitor") === 0 && count("default", "ConfigMap") === 3);
  check("default: NetworkPolicy and PodDisruptionBudget per component", count("default", "NetworkPolicy") === 2 && count("default", "PodDisruptionBudget") === 2);
}
if (kinds.full) {
  check("full: Ingress, two HPAs, a ServiceMonitor and the dashboard ConfigMap",
    count("full", "Ingress") === 1 && count("full", "HorizontalPodAutoscaler") === 2 && count("full", "ServiceMonitor") === 1 &&
      !!named(cases[1].r, "ConfigMap", "oq-orderquery-dashboard"));
  const cfg = configOf(cases[1].r, serverName);
  check("full: db.host is a template rendered with tpl, in the server's and the migration's config",
    cfg.db.host === "oq-mariadb.db.svc" && configOf(cases[1].r, "oq-orderquery-migrate")?.db.host === "oq-mariadb.db.svc");
  check("full: TLS with client certificates in orderqueryd's config",
    cfg.tls?.cert_file === "/etc/orderquery/tls/tls.crt" && cfg.tls?.client_ca_file === "/etc/orderquery/tls/ca.crt");
  const gcfg = configOf(cases[1].r, gatewayName);
  check("full: the gateway calls orderqueryd over TLS with its own client certificate",
    gcfg.upstream.tls === true && gcfg.upstream.ca_file === "/etc/orderquery/tls/ca.crt" &&
      gcfg.upstream.cert_file?.startsWith("/etc/orderquery/tls-client/") && gcfg.upstream.key_file?.startsWith("/etc/orderquery/tls-client/"));
  check("full: image by digest", named(cases[1].r, "Deployment", serverName).spec.template.spec.containers[0].image ===
    `${cases[1].r.values.image.repository}@${cases[1].r.values.image.digest}`);
  const dash = named(cases[1].r, "ConfigMap", "oq-orderquery-dashboard");
  const shipped = readFileSync(path.join(chartDir, "dashboards/orderquery.json"), "utf8");
  check("full: dashboard ConfigMap carries dashboards/orderquery.json unchanged with the grafana_dashboard label",
    !!dash && dash.data["orderquery.json"].trim() === shipped.trim() && dash.metadata.labels.grafana_dashboard === "1");
}
if (kinds.minimal) {
  const k = kinds.minimal;
  check("minimal: only orderqueryd's ConfigMap, Deployment and Service", k.join(",") === "ConfigMap,Deployment,Service", k.join(","));
  const r = cases[2].r;
  check("minimal: orderqueryd Service has the gRPC port only", named(r, "Service", serverName)?.spec.ports.map((p) => p.name).join(",") === "grpc");
  const cfg = configOf(r, serverName);
  check("minimal: no notify or admin listener in the config", cfg && !cfg.notify && !cfg.admin);
  check("minimal: pods use the namespace's default ServiceAccount", named(r, "Deployment", serverName)?.spec.template.spec.serviceAccountName === "default");
}

// ---- the dashboard and the metric names documented for the server ----
{
  const dash = JSON.parse(readFileSync(path.join(chartDir, "dashboards/orderquery.json"), "utf8"));
  const panels = dash.panels.flatMap((p) => [p, ...(p.panels || [])]).filter((p) => p.type !== "row");
  const exprs = panels.flatMap((p) => (p.targets || []).map((t) => t.expr));
  check("dashboard: every panel has a query", panels.length > 0 && panels.every((p) => (p.targets || []).length > 0 && p.targets.every((t) => t.expr)));
  check("dashboard: panel ids are unique", new Set(panels.map((p) => p.id)).size === panels.length);
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\borderquery_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""))));
  const readme = readFileSync(path.join(chartDir, "README.md"), "utf8");
  const documented = new Set([...readme.matchAll(/^\| `(orderquery_[a-z0-9_]+)` \|/gm)].map((m) => m[1]));
  const undocumented = [...used].filter((m) => !documented.has(m));
  const unused = [...documented].filter((m) => !used.has(m));
  check(`dashboard: the ${used.size} metrics it reads are the ${documented.size} in helm/orderquery/README.md`,
    used.size > 0 && undocumented.length === 0 && unused.length === 0,
    `undocumented: ${undocumented.join(",")}; unused: ${unused.join(",")}`);
  const histograms = [...readme.matchAll(/^\| `(orderquery_[a-z0-9_]+)` \| histogram \|/gm)].map((m) => m[1]);
  check("dashboard: histograms are read through _bucket with histogram_quantile",
    histograms.length > 0 && histograms.every((h) => exprs.some((e) => e.includes(`${h}_bucket`) && e.includes("histogram_quantile"))));
  const counters = [...readme.matchAll(/^\| `(orderquery_[a-z0-9_]+)` \| counter \|/gm)].map((m) => m[1]);
  const rawCounter = exprs.filter((e) => counters.some((c) => new RegExp(`${c}\\{[^}]*\\}(?!\\[)`).test(e) || new RegExp(`${c}(?![_a-z{])(?!\\[)`).test(e)));
  check("dashboard: counters are read through rate() or increase()", counters.length > 0 && rawCounter.length === 0, rawCounter.join(" | "));
}

// ---- the container recipe the chart's image refers to ----
{
  const repo = path.resolve(chartDir, "../..");
  const dockerfile = readFileSync(path.join(repo, "deploy/Dockerfile"), "utf8");
  const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)];
  const last = stages.at(-1);
  const debian = dockerfile.match(/^ARG DEBIAN=(\S+)$/m)?.[1];
  check("Dockerfile: multi-stage, the runtime stage on debian 12 slim",
    stages.length >= 2 && debian === "bookworm" && last?.[1] === "debian:${DEBIAN}-slim" && stages[0][1] === "debian:${DEBIAN}");
  const user = dockerfile.match(/^USER (\d+):(\d+)$/m);
  const def = cases[0].r?.values;
  check("Dockerfile: runs as the non-root uid/gid the chart sets",
    !!user && !!def && Number(user[1]) === def.podSecurityContext.runAsUser && Number(user[2]) === def.podSecurityContext.runAsGroup && Number(user[1]) > 0);
  const shipped = new Set([...dockerfile.matchAll(/\/stage\/usr\/local\/bin\/([\w-]+)/g)].map((m) => `/usr/local/bin/${m[1]}`));
  const commands = new Set(cases.filter((c) => c.r).flatMap((c) => podSpecs(c.r).flatMap(({ spec }) => spec.containers.flatMap((ct) =>
    [ct.command?.[0], ...["readinessProbe", "livenessProbe", "startupProbe"].map((p) => ct[p]?.exec?.command?.[0])]))).filter(Boolean));
  const missing = [...commands].filter((cmd) => cmd !== "/bin/sleep" && !shipped.has(cmd));
  check(`Dockerfile: ships every binary the chart runs (${[...commands].join(", ")})`, commands.size >= 3 && missing.length === 0, missing.join(","));
  check("Dockerfile: documents the tag the chart's default image uses",
    !!def && dockerfile.includes(`-t ${def.image.repository}:${JSON.parse(JSON.stringify(cases[0].r.manifests.find((m) => m.object.kind === "Deployment").object.spec.template.spec.containers[0].image)).split(":")[1]}`));
  // deploy/runtime-packages.sh against the binaries of this build, when they are built.
  const bins = [orderqueryd, gatewayBin, orderqueryd && path.resolve(orderqueryd, "../../client/oqctl")].filter((b) => b && existsSync(b));
  if (bins.length === 3) {
    const r = spawnSync("bash", [path.join(repo, "deploy/runtime-packages.sh"), ...bins], {
      encoding: "utf8", timeout: 120000, env: { ...process.env, OQ_OWN_LIB_DIRS: path.resolve(orderqueryd, "../..") } });
    const pkgs = (r.stdout || "").trim().split("\n");
    check("runtime-packages.sh: every shared library of the built binaries maps to a Debian package",
      r.status === 0 && ["libgrpc++1.51", "libmysqlcppconn7v5", "libcurl4", "libssl3"].every((p) => pkgs.includes(p)), (r.stderr || "").trim() || pkgs.join(","));
    const bad = spawnSync("bash", [path.join(repo, "deploy/runtime-packages.sh"), orderqueryd], { encoding: "utf8", timeout: 120000 });
    check("runtime-packages.sh: refuses a library no package owns (our own, when not declared)", bad.status !== 0 && /no installed package owns/.test(bad.stderr));
  } else {
    console.log("NOTE runtime-packages.sh not exercised: orderqueryd, oqctl or orderquery-gateway is not built");
  }
}

// ---- what must be refused ----
function mustRefuse(label, args, { schemaPath, renderMessage }) {
  // As Helm: the merged values are checked against the schema before anything is rendered.
  if (schemaPath) {
    const v = spawnSync(oqhelm, ["--values-only", ...args, chartDir], { encoding: "utf8", timeout: 30000 });
    const errs = v.status === 0 ? schemaErrors(JSON.parse(v.stdout)) : [`(values not merged: ${v.stderr.trim()})`];
    check(`${label}: values.schema.json refuses it at ${schemaPath}`,
      errs.some((e) => e.startsWith(schemaPath + " ") || e.startsWith(schemaPath + "/")), errs.join("; ") || "accepted");
  }
  if (renderMessage) {
    const r = render(args);
    check(`${label}: rendering fails naming ${renderMessage}`, !r.ok && r.error.includes(renderMessage), r.ok ? "rendered" : r.error);
  }
}
mustRefuse("values-bad.yaml (replicaCount: three)", ["-f", path.join(casesDir, "values-bad.yaml")], { schemaPath: "/server/replicaCount" });
mustRefuse("values-bad-secret.yaml (no DB Secret name)", ["-f", path.join(casesDir, "values-bad-secret.yaml")],
  { schemaPath: "/db/passwordSecret/name", renderMessage: "db.passwordSecret.name" });
mustRefuse("--set-string server.replicaCount=2", ["--set-string", "server.replicaCount=2"], { schemaPath: "/server/replicaCount" });
mustRefuse("a DB password as a plain env value", ["--set", "server.env[0].name=ORDERQUERY_DB_PASSWORD,server.env[0].value=hunter2"],
  { schemaPath: "/server/env/0" });
mustRefuse("a password in server.extraConfig", ["--set", "server.extraConfig.db.password=hunter2"], { schemaPath: "/server/extraConfig" });
mustRefuse("an APIv3 key value in a merchant's extra keys", ["-f", path.join(casesDir, "values-full.yaml"), "--set", "wechat.merchants.app.extra.apiv3_key=0123456789abcdef0123456789abcdef"],
  { schemaPath: "/wechat/merchants/app/extra" });
mustRefuse("a key PEM in a merchant's extra keys", ["-f", path.join(casesDir, "values-full.yaml"), "--set", "wechat.merchants.app.extra.private_key_pem=x"],
  { schemaPath: "/wechat/merchants/app/extra" });
mustRefuse("TLS with the kubelet's plaintext gRPC probe", ["--set", "tls.enabled=true,tls.secretName=grpc-tls"],
  { renderMessage: "gRPC probe is plaintext only" });
mustRefuse("Ingress without hosts", ["--set", "ingress.enabled=true"], { schemaPath: "/ingress/hosts", renderMessage: "ingress.hosts" });
mustRefuse("a WeChat merchant without its Secret", ["--set", "wechat.merchants.app.appids[0]=wx1,wechat.merchants.app.mchid=1,wechat.merchants.app.serial_no=S,wechat.merchants.app.public_key_id=PUB_KEY_ID_1"],
  { schemaPath: "/wechat/merchants/app", renderMessage: "wechat.merchants.app.secretName" });
mustRefuse("a caller without its Secret", ["--set", "auth.callers.billing.methods[0]=*"],
  { schemaPath: "/auth/callers/billing", renderMessage: "auth.callers.billing.secretName" });
mustRefuse("a caller named gateway (the chart's own)", ["--set", "auth.callers.gateway.secretName=k,auth.callers.gateway.methods[0]=*"],
  { schemaPath: "/auth/callers" });
mustRefuse("a caller for an unknown method", ["--set", "auth.callers.billing.secretName=k,auth.callers.billing.methods[0]=/x.Y/Z"],
  { schemaPath: "/auth/callers/billing/methods/0" });
mustRefuse("API keys in server.extraConfig", ["--set", "server.extraConfig.auth.callers.x.key=0123456789abcdef"], { schemaPath: "/server/extraConfig" });
mustRefuse("Kubernetes older than the chart's kubeVersion", ["--kube-version", "1.26.0"], { renderMessage: "incompatible with Kubernetes" });

// The checkers themselves: a broken object and an unknown field must be caught.
{
  const broken = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
    spec: { selector: { matchLabels: { a: "b" } }, template: { spec: { containers: [{ name: "c", ports: [{ containerPort: "grpc" }] }] } } } };
  check("self-test: a Deployment with a string containerPort is invalid", (await validateObject(broken)).length > 0);
  const typo = { apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: 1, targetPort: "a", apProtocol: "grpc" }] } };
  const e = await validateObject(typo);
  check("self-test: an unknown field (ports/0/apProtocol) is reported", e.some((x) => x.includes("/spec/ports/0/apProtocol")), e.join("; "));
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
