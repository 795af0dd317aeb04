// Command vulndb builds the local vulnerability database govulncheck reads with -db file://DIR, from
// the OSV entries the golang.org/x/vulndb module ships (data/osv), because CI machines reach the Go
// module proxy but not vuln.go.dev. It writes the v1 layout: index/db.json, index/modules.json and
// ID/<id>.json.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"
)

type osvEntry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Events []struct {
				Fixed string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

func main() {
	in := flag.String("osv", "", "folder of OSV JSON files (vulndb's data/osv)")
	out := flag.String("out", "", "folder to write the database to")
	flag.Parse()
	files, err := filepath.Glob(filepath.Join(*in, "*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no OSV files in %q", *in)
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(*out, d), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	modules := map[string]*module{}
	var latest time.Time
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var e osvEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		if e.Modified.After(latest) {
			latest = e.Modified
		}
		if err := os.WriteFile(filepath.Join(*out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			log.Fatal(err)
		}
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			v := moduleVuln{ID: e.ID, Modified: e.Modified}
			for _, r := range a.Ranges {
				for _, ev := range r.Events {
					if ev.Fixed != "" {
						v.Fixed = ev.Fixed
					}
				}
			}
			m.Vulns = append(m.Vulns, v)
		}
	}
	list := make([]*module, 0, len(modules))
	for _, m := range modules {
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, "index", name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write("modules.json", list)
	write("db.json", map[string]time.Time{"modified": latest})
	log.Printf("vulndb: %d entries, %d modules", len(files), len(list))
}
