// Command render reproduces `helm template` for a chart, offline: text/template with sprig plus
// Helm's include, tpl, toYaml, toJson, fromYaml, required, fail and an empty lookup; .Values,
// .Release, .Chart, .Files, .Template and .Capabilities like Helm's; subcharts (charts/ or file://
// dependencies) with scoped values and a shared `global`. With --notes it prints NOTES.txt instead. Builds with Debian's packaged Go sources in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run ./test/packaging/render helm/custody-proxy [overrides.yaml ...]
//
// Prints every rendered non-empty document after a "---" and a "# Source:" line, like Helm.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

func readYAML(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out, nil
}

// merge deep-merges src into dst like Helm's value coalescing: maps merge, other values replace,
// and null deletes the key.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	_ = enc.Close()
	return strings.TrimSuffix(buf.String(), "\n")
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func str(m map[string]interface{}, k string) string {
	if v, ok := m[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// engine is Helm's template engine: one template set for the whole chart tree (named templates
// are shared between a chart and its subcharts), with Helm's extra functions.
func engine() *template.Template {
	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["toJson"] = toJSON
	funcs["fromYaml"] = fromYAML
	funcs["lookup"] = func(...string) map[string]interface{} { return map[string]interface{}{} } // helm template: no cluster
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c, err = c.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf strings.Builder
		if err := c.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return t.Funcs(funcs)
}

type rendered struct {
	chart *chart
	name  string // template name, e.g. custody-proxy/templates/deployment.yaml
	notes bool
}

// parse adds every template of the chart tree to t and lists the ones Helm renders: not partials
// (_*), not .tpl; NOTES.txt is listed for the top chart only, as Helm shows only the parent's notes.
func parse(t *template.Template, c *chart, top bool) ([]rendered, error) {
	var out []rendered
	for _, f := range c.templates {
		base := filepath.Base(f)
		ext := filepath.Ext(base)
		notes := base == "NOTES.txt"
		if ext != ".yaml" && ext != ".yml" && ext != ".tpl" && !notes {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := path.Join(c.basePath, base)
		if _, err := t.New(name).Parse(string(data)); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(base, "_") && ext != ".tpl" && (!notes || top) {
			out = append(out, rendered{chart: c, name: name, notes: notes})
		}
	}
	for _, sub := range c.subcharts {
		more, err := parse(t, sub, false)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func chartObject(c *chart) map[string]interface{} {
	m := c.meta
	return map[string]interface{}{
		"Name": str(m, "name"), "Version": str(m, "version"), "AppVersion": str(m, "appVersion"),
		"Description": str(m, "description"), "Type": str(m, "type"), "APIVersion": str(m, "apiVersion"),
	}
}

// run renders the chart in chartDir with the override files merged over its values, in order. With
// notes, it prints the rendered NOTES.txt instead of the manifests (helm install shows it).
func run(chartDir string, overrides []string, notes bool) error {
	top, err := loadChart(chartDir, "")
	if err != nil {
		return err
	}
	values := deepCopy(top.defaults)
	for _, o := range overrides {
		ov, err := readYAML(o)
		if err != nil {
			return err
		}
		values = merge(values, ov)
	}
	valuesOf := top.coalesce(values)
	t := engine()
	list, err := parse(t, top, true)
	if err != nil {
		return err
	}
	release := map[string]interface{}{
		"Name": "release", "Namespace": "default", "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	capabilities := map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"},
	}
	var out strings.Builder
	for _, r := range list {
		v, enabled := valuesOf[r.chart]
		if !enabled || r.notes != notes {
			continue
		}
		data := map[string]interface{}{
			"Values": v, "Chart": chartObject(r.chart), "Release": release, "Capabilities": capabilities,
			"Files":    r.chart.files,
			"Template": map[string]interface{}{"Name": r.name, "BasePath": r.chart.basePath},
		}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, r.name, data); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		switch {
		case strings.TrimSpace(text) == "":
		case notes:
			out.WriteString(text)
		default:
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", r.name, strings.TrimRight(text, "\n"))
		}
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: render [--notes] CHART_DIR [VALUES_OVERRIDE.yaml ...]")
		os.Exit(2)
	}
	args := os.Args[1:]
	notes := args[0] == "--notes"
	if notes {
		args = args[1:]
	}
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: render [--notes] CHART_DIR [VALUES_OVERRIDE.yaml ...]")
		os.Exit(2)
	}
	if err := run(args[0], args[1:], notes); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}
