package main

// What oqhelm must do the way helm does, on a small chart written here.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const chartYAML = "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"9.9\"\nkubeVersion: \">=1.27.0-0\"\n"

func TestParseSetTypesAndPaths(t *testing.T) {
	vals := map[string]interface{}{}
	for _, s := range []string{"a.b=3,a.c=true", "list[1].name=x", `dots=a\.b`, "n=null", "s=007"} {
		if err := parseSet(s, vals, false); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := parseSet("str=3", vals, true); err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"a":    map[string]interface{}{"b": int64(3), "c": true},
		"list": []interface{}{nil, map[string]interface{}{"name": "x"}},
		"dots": "a.b", "n": nil, "s": "007", "str": "3",
	}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("got %#v\nwant %#v", vals, want)
	}
	if err := parseSet("novalue", vals, false); err == nil {
		t.Fatal("a pair without '=' was accepted")
	}
}

func TestValuesMergeOrderAndNullDeletes(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":  chartYAML,
		"values.yaml": "a: {x: 1, z: 2, list: [1, 2]}\nkeep: this\ndrop: here\n",
		"f1.yaml":     "a: {x: 10, list: [9]}\ndrop: null\n",
		"f2.yaml":     "a: {z: 20}\n",
	})
	v, err := mergedValues(dir, []string{filepath.Join(dir, "f1.yaml"), filepath.Join(dir, "f2.yaml")},
		[]string{"a.x=100"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := v["a"].(map[string]interface{})
	if a["x"] != int64(100) || a["z"] != float64(20) || !reflect.DeepEqual(a["list"], []interface{}{float64(9)}) {
		t.Fatalf("merge: %#v", a)
	}
	if _, ok := v["drop"]; ok {
		t.Fatal("a null in a values file did not delete the chart's default")
	}
	if v["keep"] != "this" {
		t.Fatalf("keep = %#v", v["keep"])
	}
}

func TestRenderIncludeTplRequiredFilesAndSplit(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":  chartYAML,
		"values.yaml": "name: web\nhost: \"{{ .Release.Name }}-db\"\nlabels: {a: b}\nport: 8080\n",
		"files/x.txt": "hello\n",
		"templates/_h.tpl": `{{- define "demo.labels" -}}
app: {{ .Values.name }}
{{ toYaml .Values.labels }}
{{- end -}}`,
		"templates/cm.yaml": `# leading comment only document
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    {{- include "demo.labels" . | nindent 4 }}
data:
  host: {{ tpl .Values.host . | quote }}
  file: {{ .Files.Get "files/x.txt" | trim | quote }}
  port: {{ .Values.port | quote }}
  version: {{ .Chart.AppVersion | quote }}
  kube: {{ .Capabilities.KubeVersion.Minor | quote }}
  missing: "{{ .Values.nothere }}"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ required "name is required" .Values.name }}
`,
		"templates/NOTES.txt": "release {{ .Release.Name }}",
	})
	out, err := run(dir, "rel", "ns", "1.29.0", nil, nil, nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Notes     string
		Manifests []struct {
			Source string
			Object map[string]interface{}
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Notes != "release rel" {
		t.Fatalf("notes %q", got.Notes)
	}
	if len(got.Manifests) != 2 {
		t.Fatalf("want 2 objects (comment-only document dropped), got %d", len(got.Manifests))
	}
	// Install order: ServiceAccount before ConfigMap.
	if got.Manifests[0].Object["kind"] != "ServiceAccount" {
		t.Fatalf("order: %v first", got.Manifests[0].Object["kind"])
	}
	cm := got.Manifests[1].Object
	data := cm["data"].(map[string]interface{})
	md := cm["metadata"].(map[string]interface{})
	labels := md["labels"].(map[string]interface{})
	if md["name"] != "rel-demo" || labels["app"] != "web" || labels["a"] != "b" {
		t.Fatalf("metadata %#v", md)
	}
	want := map[string]interface{}{"host": "rel-db", "file": "hello", "port": "8080", "version": "9.9",
		"kube": "29", "missing": ""}
	if !reflect.DeepEqual(data, want) {
		t.Fatalf("data %#v\nwant %#v", data, want)
	}

	// required and fail stop the rendering with their own message.
	if _, err := run(dir, "rel", "ns", "1.29.0", nil, []string{"name="}, nil, nil, true); err == nil ||
		!strings.Contains(err.Error(), "name is required") {
		t.Fatalf("required: %v", err)
	}
	// kubeVersion constraint.
	if _, err := run(dir, "rel", "ns", "1.26.3", nil, nil, nil, nil, true); err == nil ||
		!strings.Contains(err.Error(), "incompatible with Kubernetes") {
		t.Fatalf("kubeVersion: %v", err)
	}
}

func TestRenderRefusesDuplicatesAndBrokenYAML(t *testing.T) {
	dup := writeChart(t, map[string]string{
		"Chart.yaml": chartYAML, "values.yaml": "",
		"templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"templates/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
	})
	if _, err := run(dup, "r", "n", "1.29.0", nil, nil, nil, nil, true); err == nil || !strings.Contains(err.Error(), "rendered twice") {
		t.Fatalf("duplicate: %v", err)
	}
	broken := writeChart(t, map[string]string{
		"Chart.yaml": chartYAML, "values.yaml": "",
		"templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
	})
	if _, err := run(broken, "r", "n", "1.29.0", nil, nil, nil, nil, true); err == nil || !strings.Contains(err.Error(), "YAML parse error") {
		t.Fatalf("broken YAML: %v", err)
	}
	fails := writeChart(t, map[string]string{
		"Chart.yaml": chartYAML, "values.yaml": "",
		"templates/a.yaml": `{{ fail "stop here" }}`,
	})
	if _, err := run(fails, "r", "n", "1.29.0", nil, nil, nil, nil, true); err == nil || err.Error() != "execution error: stop here" {
		t.Fatalf("fail: %v", err)
	}
}
