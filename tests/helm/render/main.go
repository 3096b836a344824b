// oqhelm renders a Helm chart the way `helm template` does, for CI on a machine without helm
// (Debian 12 packages none). It implements what helm/orderquery uses and fails loudly on the
// rest: Go text/template with sprig (minus env/expandenv, as Helm), include, tpl, required,
// toYaml/fromYaml/toJson/fromJson, lookup (always empty, as in `helm template`), .Values (the
// chart's values.yaml, then each -f file, then --set/--set-string), .Release, .Chart,
// .Capabilities (KubeVersion, APIVersions.Has), .Files (Get, GetBytes, Glob, Lines), .Template,
// the chart's kubeVersion constraint, partials (_*.tpl), NOTES.txt rendered apart, documents
// split on "---", hooks kept and marked.
//
// It does not validate values against values.schema.json: the test does that with ajv on the
// merged values this tool prints (the same values helm would validate).
//
// Usage:
//
//	oqhelm [--name R] [--namespace NS] [-f FILE]... [--set K=V]... [--set-string K=V]...
//	       [--api-versions G/V]... [--kube-version 1.29.0] [--json | --values-only] CHART_DIR
//
// Output: the manifests as a YAML stream (each with "# Source:"), or with --json one object
// {"values": merged values, "notes": NOTES.txt, "manifests": [{"source", "hook", "object"}]}.
// Exit 1 with "Error: ..." on stderr when the chart cannot be rendered.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Chart is .Chart: the fields of Chart.yaml under the names Helm gives them in templates.
type Chart struct {
	APIVersion   string            `json:"apiVersion"`
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	KubeVersion  string            `json:"kubeVersion"`
	Description  string            `json:"description"`
	Type         string            `json:"type"`
	Keywords     []string          `json:"keywords"`
	Home         string            `json:"home"`
	Sources      []string          `json:"sources"`
	Icon         string            `json:"icon"`
	AppVersion   string            `json:"appVersion"`
	Deprecated   bool              `json:"deprecated"`
	Annotations  map[string]string `json:"annotations"`
	Dependencies []interface{}     `json:"dependencies"`
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version, Major, Minor string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has is true for "group/version" or "group/version/Kind" that the cluster serves.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files is .Files: every chart file outside templates/.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}
func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// The resources Kubernetes core groups serve on a recent cluster; --api-versions adds CRDs.
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"apiextensions.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
}

const recursionLimit = 1000

func main() {
	var valueFiles, sets, setStrings, apiVersions multiFlag
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "1.29.0", "Kubernetes version for .Capabilities")
	asJSON := flag.Bool("json", false, "print values, notes and manifests as one JSON object")
	valuesOnly := flag.Bool("values-only", false, "print the merged values as JSON and stop (what Helm checks against values.schema.json)")
	flag.Var(&valueFiles, "f", "values file (repeatable, later wins)")
	flag.Var(&sets, "set", "key=value[,key=value] with typed values (repeatable)")
	flag.Var(&setStrings, "set-string", "key=value[,key=value] as strings (repeatable)")
	flag.Var(&apiVersions, "api-versions", "extra API version served (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: oqhelm [flags] CHART_DIR")
		os.Exit(2)
	}
	if *valuesOnly {
		values, err := mergedValues(flag.Arg(0), valueFiles, sets, setStrings)
		if err == nil {
			var out []byte
			if out, err = json.MarshalIndent(values, "", "  "); err == nil {
				os.Stdout.Write(append(out, '\n'))
				return
			}
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	out, err := run(flag.Arg(0), *name, *namespace, *kubeVersion, valueFiles, sets, setStrings,
		apiVersions, *asJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func run(chartDir, name, namespace, kubeVersion string, valueFiles, sets, setStrings,
	apiVersions []string, asJSON bool) ([]byte, error) {
	chart, err := loadChart(chartDir)
	if err != nil {
		return nil, err
	}
	kv, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("--kube-version %q: %v", kubeVersion, err)
	}
	if chart.KubeVersion != "" {
		c, err := semver.NewConstraint(chart.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("Chart.yaml kubeVersion %q: %v", chart.KubeVersion, err)
		}
		if !c.Check(kv) {
			return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s",
				chart.KubeVersion, kv)
		}
	}
	values, err := mergedValues(chartDir, valueFiles, sets, setStrings)
	if err != nil {
		return nil, err
	}
	files, templates, err := loadFiles(chartDir)
	if err != nil {
		return nil, err
	}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: "v" + kv.String(), Major: strconv.FormatUint(kv.Major(), 10),
			Minor: strconv.FormatUint(kv.Minor(), 10)},
		APIVersions: append(append(VersionSet{}, defaultAPIVersions...), apiVersions...),
		HelmVersion: map[string]string{"Version": "v3.14.0-oqhelm"},
	}
	release := map[string]interface{}{
		"Name": name, "Namespace": namespace, "Revision": 1, "IsInstall": true,
		"IsUpgrade": false, "Service": "Helm",
	}
	rendered, err := renderAll(chart, templates, func(tplName string) map[string]interface{} {
		return map[string]interface{}{
			"Values": values, "Release": release, "Chart": chart, "Capabilities": caps,
			"Files": files,
			"Template": map[string]interface{}{"Name": tplName,
				"BasePath": chart.Name + "/templates"},
		}
	})
	if err != nil {
		return nil, err
	}
	notesName := chart.Name + "/templates/NOTES.txt"
	notes := rendered[notesName]
	delete(rendered, notesName)
	manifests, err := splitManifests(rendered)
	if err != nil {
		return nil, err
	}
	if asJSON {
		return json.MarshalIndent(map[string]interface{}{
			"values": values, "notes": notes, "manifests": manifests}, "", "  ")
	}
	var b bytes.Buffer
	for _, m := range manifests {
		y, err := yaml.JSONToYAML(m.Object)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", m.Source, y)
	}
	return b.Bytes(), nil
}

func loadChart(dir string) (*Chart, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var c Chart
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	if c.APIVersion != "v2" || c.Name == "" || c.Version == "" {
		return nil, errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}
	if _, err := semver.StrictNewVersion(c.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not SemVer 2: %v", c.Version, err)
	}
	if len(c.Dependencies) > 0 {
		return nil, errors.New("Chart.yaml: dependencies are not supported by oqhelm")
	}
	return &c, nil
}

// loadFiles returns .Files (outside templates/) and the templates (name -> text).
func loadFiles(dir string) (Files, map[string]string, error) {
	files := Files{}
	templates := map[string]string{}
	chartName := ""
	if c, err := loadChart(dir); err == nil {
		chartName = c.Name
	}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel != "." && strings.HasPrefix(info.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			templates[chartName+"/"+rel] = string(data)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" ||
			strings.HasPrefix(info.Name(), "."):
		default:
			files[rel] = data
		}
		return nil
	})
	return files, templates, err
}

// ---- values ----

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	// Like Helm (sigs.k8s.io/yaml): YAML -> JSON -> Go, so numbers are float64.
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

func mergedValues(chartDir string, valueFiles, sets, setStrings []string) (map[string]interface{}, error) {
	defaults, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		m, err := readYAMLMap(f)
		if err != nil {
			return nil, err
		}
		user = mergeMaps(user, m)
	}
	for _, s := range sets {
		if err := parseSet(s, user, false); err != nil {
			return nil, fmt.Errorf("--set %s: %v", s, err)
		}
	}
	for _, s := range setStrings {
		if err := parseSet(s, user, true); err != nil {
			return nil, fmt.Errorf("--set-string %s: %v", s, err)
		}
	}
	return coalesce(user, defaults), nil
}

// mergeMaps: b over a, maps merged key by key, anything else replaced (lists too).
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce fills the user's values with the chart's defaults; a user null deletes the key.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range user {
		out[k] = v
	}
	for k, dv := range defaults {
		uv, present := out[k]
		switch {
		case !present:
			out[k] = deepCopy(dv)
		case uv == nil:
			delete(out, k)
		default:
			um, uok := uv.(map[string]interface{})
			dm, dok := dv.(map[string]interface{})
			if uok && dok {
				out[k] = coalesce(um, dm)
			}
		}
	}
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	default:
		return v
	}
}

var indexRe = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// parseSet applies "a.b=1,c[0]=x" to vals. Backslash escapes '.', ',' and '='.
func parseSet(s string, vals map[string]interface{}, asString bool) error {
	for _, pair := range splitEscaped(s, ',') {
		kv := splitEscaped(pair, '=')
		if len(kv) < 2 {
			return fmt.Errorf("%q is not key=value", pair)
		}
		key := kv[0]
		raw := unescape(strings.Join(kv[1:], "="))
		var value interface{} = raw
		if !asString {
			value = typed(raw)
		}
		parts := splitEscaped(key, '.')
		cur := vals
		for i, p := range parts {
			p = unescape(p)
			last := i == len(parts)-1
			if m := indexRe.FindStringSubmatch(p); m != nil {
				idx, _ := strconv.Atoi(m[2])
				if idx > 65536 {
					return fmt.Errorf("index %d too large", idx)
				}
				list, _ := cur[m[1]].([]interface{})
				for len(list) <= idx {
					list = append(list, nil)
				}
				if last {
					list[idx] = value
					cur[m[1]] = list
					break
				}
				next, ok := list[idx].(map[string]interface{})
				if !ok {
					next = map[string]interface{}{}
					list[idx] = next
				}
				cur[m[1]] = list
				cur = next
				continue
			}
			if last {
				cur[p] = value
				break
			}
			next, ok := cur[p].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				cur[p] = next
			}
			cur = next
		}
	}
	return nil
}

func typed(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && (s == "0" || !strings.HasPrefix(s, "0")) {
		return n
	}
	return s
}

func splitEscaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			cur.WriteByte(s[i])
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if s[i] == sep {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- templates ----

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "" // as Helm: errors are swallowed here
	}
	return strings.TrimSuffix(string(data), "\n")
}

func funcMap(root **template.Template, dataFor func(string) map[string]interface{}) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	depth := 0
	f["toYaml"] = toYAML
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var l []interface{}
		if err := yaml.Unmarshal([]byte(s), &l); err != nil {
			l = []interface{}{err.Error()}
		}
		return l
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		var l []interface{}
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			l = []interface{}{err.Error()}
		}
		return l
	}
	f["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return nil, errors.New(warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return nil, errors.New(warn)
		}
		return val, nil
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		depth++
		defer func() { depth-- }()
		if depth > recursionLimit {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
		}
		var buf bytes.Buffer
		if err := (*root).ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := (*root).Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error calling tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

func renderAll(chart *Chart, templates map[string]string,
	dataFor func(string) map[string]interface{}) (map[string]string, error) {
	var root *template.Template
	root = template.New("gotpl").Option("missingkey=zero")
	root.Funcs(funcMap(&root, dataFor))
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := root.New(n).Parse(templates[n]); err != nil {
			return nil, fmt.Errorf("parse error in %q: %v", n, err)
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, n, dataFor(n)); err != nil {
			return nil, cleanErr(err)
		}
		out[n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

// cleanErr keeps Helm's shape: a fail/required message is reported as itself.
func cleanErr(err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, "error calling fail: "); i >= 0 {
		return errors.New("execution error: " + msg[i+len("error calling fail: "):])
	}
	if i := strings.LastIndex(msg, "error calling required: "); i >= 0 {
		return errors.New("execution error: " + msg[i+len("error calling required: "):])
	}
	return err
}

// ---- manifests ----

// Manifest is one rendered object.
type Manifest struct {
	Source string          `json:"source"`
	Hook   string          `json:"hook,omitempty"`
	Object json.RawMessage `json:"object"`
}

var sepRe = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// Helm's install order, by kind; unknown kinds last.
var installOrder = []string{"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService"}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

func splitManifests(rendered map[string]string) ([]Manifest, error) {
	var out []Manifest
	type meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Namespace   string            `json:"namespace"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	kinds := map[int]string{}
	seen := map[string]string{}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, doc := range sepRe.Split(rendered[n], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %v", n, err)
			}
			if string(j) == "null" {
				continue // comments only
			}
			var m meta
			if err := json.Unmarshal(j, &m); err != nil {
				return nil, fmt.Errorf("%s: not an object: %v", n, err)
			}
			if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
				return nil, fmt.Errorf("%s: an object without apiVersion, kind or metadata.name:\n%s", n, doc)
			}
			id := m.APIVersion + "/" + m.Kind + "/" + m.Metadata.Namespace + "/" + m.Metadata.Name
			if prev, dup := seen[id]; dup {
				return nil, fmt.Errorf("%s %q is rendered twice (%s and %s)", m.Kind, m.Metadata.Name, prev, n)
			}
			seen[id] = n
			kinds[len(out)] = m.Kind
			out = append(out, Manifest{Source: n, Hook: m.Metadata.Annotations["helm.sh/hook"], Object: j})
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ha, hb := out[idx[a]].Hook != "", out[idx[b]].Hook != ""
		if ha != hb {
			return !ha // hooks after the release's objects, as `helm template` prints them
		}
		return kindRank(kinds[idx[a]]) < kindRank(kinds[idx[b]])
	})
	sorted := make([]Manifest, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	return sorted, nil
}
