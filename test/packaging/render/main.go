// Command render reproduces `helm template` for a chart, offline: text/template with sprig plus
// Helm's include, tpl, toYaml, toJson, fromYaml, required and fail; .Values, .Release, .Chart,
// .Template and .Capabilities like Helm's. Builds with Debian's packaged Go sources in GOPATH mode:
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
	"sort"
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

func run(chartDir string, overrides []string) error {
	chartMeta, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, o := range overrides {
		ov, err := readYAML(o)
		if err != nil {
			return err
		}
		values = merge(values, ov)
	}
	chartName := str(chartMeta, "name")
	if chartName == "" {
		return errors.New("Chart.yaml has no name")
	}

	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		return err
	}
	sort.Strings(files)

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["toJson"] = toJSON
	funcs["fromYaml"] = fromYAML
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
	t.Funcs(funcs)

	basePath := path.Join(chartName, "templates")
	var names []string
	for _, f := range files {
		base := filepath.Base(f)
		ext := filepath.Ext(base)
		if ext != ".yaml" && ext != ".yml" && ext != ".tpl" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		name := path.Join(basePath, base)
		if _, err := t.New(name).Parse(string(data)); err != nil {
			return err
		}
		if !strings.HasPrefix(base, "_") && ext != ".tpl" {
			names = append(names, name)
		}
	}

	chart := map[string]interface{}{
		"Name":        chartName,
		"Version":     str(chartMeta, "version"),
		"AppVersion":  str(chartMeta, "appVersion"),
		"Description": str(chartMeta, "description"),
		"Type":        str(chartMeta, "type"),
		"APIVersion":  str(chartMeta, "apiVersion"),
	}
	release := map[string]interface{}{
		"Name": "release", "Namespace": "default", "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	capabilities := map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"},
	}

	var out strings.Builder
	for _, name := range names {
		data := map[string]interface{}{
			"Values":       values,
			"Chart":        chart,
			"Release":      release,
			"Capabilities": capabilities,
			"Template":     map[string]interface{}{"Name": name, "BasePath": basePath},
		}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return err
		}
		rendered := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(rendered) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimRight(rendered, "\n"))
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: render CHART_DIR [VALUES_OVERRIDE.yaml ...]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}
