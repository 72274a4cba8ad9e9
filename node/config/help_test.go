package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/CONFIG.md from the key table")

// docPath is docs/CONFIG.md at the repository root.
var docPath = filepath.Join("..", "..", "docs", "CONFIG.md")

func TestHelpListsEveryKey(t *testing.T) {
	h := Help()
	if !strings.Contains(h, "--config FILE") || !strings.Contains(h, ConfigEnv) {
		t.Error("help does not document --config")
	}
	for _, k := range Keys() {
		// The flag starts its own entry; description, defaults and env follow.
		i := strings.Index(h, "\n  "+k.Flag()+" ")
		if k.kind == kindBool {
			i = strings.Index(h, "\n  "+k.Flag()+"[=true|false]\n")
		}
		if i < 0 {
			t.Errorf("help has no entry for %s", k.Flag())
			continue
		}
		entry := h[i+1:]
		if j := strings.Index(entry, "\n  --"); j >= 0 {
			entry = entry[:j]
		}
		for _, want := range []string{k.Desc, "(default " + displayDefault(k.Default), "env " + k.EnvVar() + ")"} {
			if !strings.Contains(entry, want) {
				t.Errorf("help entry of %s lacks %q:\n%s", k.Name, want, entry)
			}
		}
		if k.Macro != "" && !strings.Contains(entry, "macronode "+k.Macro) {
			t.Errorf("help entry of %s lacks the macronode default", k.Name)
		}
		if k.Reloadable != strings.Contains(entry, "; reloadable") {
			t.Errorf("help entry of %s: reloadable should be %t", k.Name, k.Reloadable)
		}
		if r := k.rangeText(); r != "" && !strings.Contains(entry, r) {
			t.Errorf("help entry of %s lacks its range %q", k.Name, r)
		}
	}
}

func TestMarkdownTable(t *testing.T) {
	md := MarkdownTable()
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	if len(lines) != len(table)+2 {
		t.Fatalf("%d lines, want header, rule and %d rows", len(lines), len(table))
	}
	for i, k := range Keys() {
		row := lines[i+2]
		if !strings.HasPrefix(row, "| `"+k.Name+"` | `"+displayDefault(k.Default)+"` | `"+displayDefault(k.DefaultFor(Macronode))+"` |") {
			t.Errorf("row %q", row)
		}
		if cells := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|"); cells != 7 {
			t.Errorf("row of %s has %d separators, want 7", k.Name, cells)
		}
		if strings.ContainsAny(strings.ReplaceAll(row, "`", ""), "<>") && !strings.Contains(row, "&lt;") {
			t.Errorf("row of %s has raw angle brackets: %s", k.Name, row)
		}
	}
}

// docs/CONFIG.md is generated from the key table; regenerate it with
// go test ./node/config -run TestConfigTableUpToDate -update
func TestConfigTableUpToDate(t *testing.T) {
	want := Document()
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run go test ./node/config -run TestConfigTableUpToDate -update", docPath)
	}
	if !strings.Contains(want, MarkdownTable()) {
		t.Error("document lacks the table")
	}
}
