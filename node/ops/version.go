package ops

import (
	"runtime"
	"runtime/debug"
	"slices"
)

// Service is the service name every ops response carries.
const Service = "svc-dht"

// Build is what package main receives through -ldflags -X (for example
// -X main.version=v0.1.0 -X main.gitCommit=abc123 -X main.buildTS=2025-01-01T00:00:00Z).
// Empty fields fall back to the module's build information.
type Build struct {
	Version string
	Git     string
	BuildTS string
}

// VersionInfo is the body of /version and of `svc-dht --version`.
type VersionInfo struct {
	Service  string   `json:"service"`
	Version  string   `json:"version"`
	Git      string   `json:"git"`
	BuildTS  string   `json:"build_ts"`
	Go       string   `json:"go"`
	Features []string `json:"features"`
}

// NewVersionInfo fills a VersionInfo from b and the binary's build
// information: an empty version becomes the main module's version, an empty
// git the VCS revision (with "-dirty" when the tree was modified), an empty
// build_ts the VCS commit time; what is still unknown is "unknown".
// features are the enabled optional features (for example "pq-dual-sign",
// "store", "amnesia"); the build flavour, "micronode" or "macronode", is
// always listed first, the rest sorted and without duplicates.
func NewVersionInfo(b Build, features ...string) VersionInfo {
	v := VersionInfo{Service: Service, Version: b.Version, Git: b.Git, BuildTS: b.BuildTS, Go: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		fillFromBuildInfo(&v, info)
	}
	for _, p := range []*string{&v.Version, &v.Git, &v.BuildTS} {
		if *p == "" {
			*p = "unknown"
		}
	}
	rest := slices.DeleteFunc(slices.Clone(features), func(f string) bool { return f == "" || f == flavor })
	slices.Sort(rest)
	v.Features = append([]string{flavor}, slices.Compact(rest)...)
	return v
}

func fillFromBuildInfo(v *VersionInfo, info *debug.BuildInfo) {
	if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	var rev, modified, vcsTime string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			vcsTime = s.Value
		}
	}
	if v.Git == "" && rev != "" {
		v.Git = rev
		if modified == "true" {
			v.Git += "-dirty"
		}
	}
	if v.BuildTS == "" {
		v.BuildTS = vcsTime
	}
}
