package main

import (
	"database/sql"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The ceiling copies the store's statements, read here from the service's
// source as text: this fails when the store's text changes and the copy
// does not, so the ceiling keeps measuring what the service runs.
func TestCeilingRunsTheStoresStatements(t *testing.T) {
	store := storeStrings(t, filepath.Join("..", "adapters", "postgres"))
	for name, statement := range map[string]string{
		"ceilingSelect":       ceilingSelect,
		"ceilingAllocate":     ceilingAllocate,
		"ceilingOutboxInsert": ceilingOutboxInsert,
	} {
		if !store[statement] {
			t.Errorf("%s is no longer a statement of adapters/postgres:\n%s", name, statement)
		}
	}
}

// storeStrings are the string literals of the package's non-test files
// and its string constants, concatenations of literals and constants
// evaluated.
func storeStrings(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	consts := map[string]ast.Expr{}
	var literals []*ast.BasicLit
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						consts[name.Name] = n.Values[i]
					}
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					literals = append(literals, n)
				}
			}
			return true
		})
	}
	var eval func(ast.Expr) (string, bool)
	eval = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			s, err := strconv.Unquote(e.Value)
			return s, err == nil && e.Kind == token.STRING
		case *ast.Ident:
			if v, ok := consts[e.Name]; ok {
				return eval(v)
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				x, okX := eval(e.X)
				y, okY := eval(e.Y)
				return x + y, okX && okY
			}
		}
		return "", false
	}
	out := map[string]bool{}
	for _, l := range literals {
		if s, ok := eval(l); ok {
			out[s] = true
		}
	}
	for _, v := range consts {
		if s, ok := eval(v); ok {
			out[s] = true
		}
	}
	return out
}

// The names the bench uses to reach the service from outside are still
// the service's: each appears as a string literal in its source.
func TestServiceStillUsesTheseNames(t *testing.T) {
	var literals = map[string]bool{}
	for _, dir := range serviceDirs(t) {
		for s := range storeStrings(t, dir) {
			literals[s] = true
		}
	}
	for _, name := range []string{
		changeBatchQuantityTopic, lineAllocatedTopic, redisPayloadField,
		"allocation.events.",
	} {
		if !literals[name] {
			t.Errorf("%q is no longer a string of the service's source", name)
		}
	}
}

// serviceDirs are the service's package directories (the repository
// without this module).
func serviceDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (path == filepath.Join("..", "bench") || strings.HasPrefix(d.Name(), ".") && path != ".."):
			return filepath.SkipDir
		case d.IsDir():
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// choose follows the domain: warehouse stock first, then the earliest
// eta, skipping batches without room, by the allocated totals the store
// now loads.
func TestCeilingChoosesAsTheDomain(t *testing.T) {
	day := func(d int) sql.NullTime {
		return sql.NullTime{Time: time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC), Valid: true}
	}
	batches := []ceilingBatch{
		{ref: "later", purchased: 10, eta: day(9)},
		{ref: "warehouse", purchased: 10, allocated: 9},
		{ref: "sooner", purchased: 10, eta: day(3)},
	}
	for _, c := range []struct {
		qty  int64
		want string
	}{{1, "warehouse"}, {2, "sooner"}, {11, ""}} {
		got := choose(batches, c.qty)
		switch {
		case got == nil && c.want != "":
			t.Errorf("qty %d: no batch, want %s", c.qty, c.want)
		case got != nil && got.ref != c.want:
			t.Errorf("qty %d: batch %s, want %q", c.qty, got.ref, c.want)
		}
	}
	if got := batches[2].etaText(); got != "2026-12-03" {
		t.Errorf("eta written as %q", got)
	}
	if got := batches[1].etaText(); got != "" {
		t.Errorf("warehouse stock's eta written as %q, want empty (NULL)", got)
	}
}
