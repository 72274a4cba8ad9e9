// Package config is the svc-dht daemon's configuration: the Config struct,
// the key table every knob is described in once, and the loading, strict
// validation, reload and help built on that table.
//
// A configuration comes from, lowest to highest precedence: the built-in
// defaults, the profile's defaults (micronode, the default, or macronode),
// a TOML file (--config FILE or SVC_DHT_CONFIG), SVC_DHT_* environment
// variables and command-line flags. Flags are named exactly like the keys
// in the file (--queue_cap.work); environment variables are SVC_DHT_ and
// the key in upper case with dots as underscores (SVC_DHT_QUEUE_CAP_WORK).
// The profile may be chosen in any source and its defaults always lie
// beneath the file.
//
// Load validates strictly (unknown keys and unknown SVC_DHT_* variables
// included) and reports every problem in a *ValidationError, which the
// daemon maps to exit code 2. Reload applies the reloadable keys of new
// sources on SIGHUP and reports the others as needing a restart. Check
// validates a file alone. Help, MarkdownTable and Document render the key
// table; docs/CONFIG.md is generated from it and a test keeps it current.
//
// The package reads no environment and no clock: callers pass the
// environment in Sources, and may pass a file reader (os.ReadFile by
// default).
package config
