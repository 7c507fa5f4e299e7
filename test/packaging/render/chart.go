package main

// Loading a chart the way Helm's loader does, for what this renderer supports: Chart.yaml,
// values.yaml, templates/, the chart's other files (.Files), and subcharts from charts/ or from
// dependencies with a file:// repository, each with its values scoped under its name (or alias)
// and `global` shared from the parent down.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

type chart struct {
	dir       string
	meta      map[string]interface{}
	defaults  map[string]interface{} // values.yaml
	files     files
	templates []string // file paths under templates/
	basePath  string   // Helm's .Template.BasePath, e.g. parent/charts/sub/templates
	alias     string   // key of this chart's values in its parent's values
	condition string
	subcharts []*chart
}

func loadChart(dir, parentBase string) (*chart, error) {
	meta, err := readYAML(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	name := str(meta, "name")
	if name == "" {
		return nil, fmt.Errorf("%s: Chart.yaml has no name", dir)
	}
	defaults, err := readYAML(filepath.Join(dir, "values.yaml"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if defaults == nil {
		defaults = map[string]interface{}{}
	}
	c := &chart{dir: dir, meta: meta, defaults: defaults, alias: name, basePath: path.Join(name, "templates")}
	if parentBase != "" {
		c.basePath = path.Join(parentBase, "charts", name, "templates")
	}
	if c.templates, err = filepath.Glob(filepath.Join(dir, "templates", "*")); err != nil {
		return nil, err
	}
	sort.Strings(c.templates)
	if c.files, err = loadFiles(dir); err != nil {
		return nil, err
	}
	return c, c.loadSubcharts(path.Dir(c.basePath))
}

// loadSubcharts reads charts/*/ and the dependencies whose repository is file://PATH. Dependencies
// from a chart repository would need `helm dependency build`: they are an error here.
func (c *chart) loadSubcharts(base string) error {
	seen := map[string]bool{}
	if deps, ok := c.meta["dependencies"].([]interface{}); ok {
		for i, d := range deps {
			dep, _ := d.(map[string]interface{})
			repo := str(dep, "repository")
			if !strings.HasPrefix(repo, "file://") {
				return fmt.Errorf("%s: Chart.yaml dependencies[%d].repository %q: only file:// is supported", c.dir, i, repo)
			}
			sub, err := loadChart(filepath.Join(c.dir, strings.TrimPrefix(repo, "file://")), base)
			if err != nil {
				return err
			}
			if a := str(dep, "alias"); a != "" {
				sub.alias = a
			}
			sub.condition = str(dep, "condition")
			seen[str(sub.meta, "name")] = true
			c.subcharts = append(c.subcharts, sub)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(c.dir, "charts", "*", "Chart.yaml"))
	sort.Strings(dirs)
	for _, f := range dirs {
		sub, err := loadChart(filepath.Dir(f), base)
		if err != nil {
			return err
		}
		if !seen[str(sub.meta, "name")] {
			c.subcharts = append(c.subcharts, sub)
		}
	}
	return nil
}

// coalesce gives each chart of the tree its values: parent values win over a subchart's own
// values.yaml, and the parent's `global` is merged over the subchart's. Like Helm, the subchart's
// coalesced values are written back under its key in the parent's values.
func (c *chart) coalesce(values map[string]interface{}) map[*chart]map[string]interface{} {
	out := map[*chart]map[string]interface{}{}
	c.coalesceInto(values, out)
	return out
}

func (c *chart) coalesceInto(values map[string]interface{}, out map[*chart]map[string]interface{}) {
	out[c] = values
	global, _ := values["global"].(map[string]interface{})
	for _, sub := range c.subcharts {
		if sub.condition != "" && !truthy(lookupPath(values, sub.condition)) {
			continue
		}
		subValues := merge(deepCopy(sub.defaults), asMap(values[sub.alias]))
		subGlobal := merge(asMap(deepCopy(sub.defaults)["global"]), deepCopy(asMap(global)))
		subValues["global"] = subGlobal
		values[sub.alias] = subValues
		sub.coalesceInto(subValues, out)
	}
}

func asMap(v interface{}) map[string]interface{} {
	if m, ok := v.(map[string]interface{}); ok {
		return m
	}
	return map[string]interface{}{}
}

func deepCopy(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		if sm, ok := v.(map[string]interface{}); ok {
			out[k] = deepCopy(sm)
		} else {
			out[k] = v
		}
	}
	return out
}

func lookupPath(values map[string]interface{}, dotted string) interface{} {
	var cur interface{} = values
	for _, part := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func truthy(v interface{}) bool {
	b, ok := v.(bool)
	return !ok || b // Helm: a condition path that is absent or not a bool leaves the chart enabled
}

// files is Helm's .Files: every file of the chart outside templates/ and charts/, except Chart.yaml,
// values.yaml and values.schema.json. (.helmignore is not read.)
type files map[string][]byte

func loadFiles(dir string) (files, error) {
	out := files{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "templates" || rel == "charts" {
				return filepath.SkipDir
			}
			return nil
		}
		switch rel {
		case "Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", ".helmignore":
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = data
		return err
	})
	return out, err
}

func (f files) Get(name string) string      { return string(f[name]) }
func (f files) GetBytes(name string) []byte { return f[name] }

// Glob matches with path.Match (Helm uses gobwas/glob, which also knows **).
func (f files) Glob(pattern string) files {
	out := files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

func (f files) Lines(name string) []string {
	s := strings.TrimSuffix(string(f[name]), "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// AsConfig renders the files as a ConfigMap's data map (base names as keys), like Helm's.
func (f files) AsConfig() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	return toYAML(m)
}
